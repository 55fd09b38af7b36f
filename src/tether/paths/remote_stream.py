"""Byte streams to and from remote files, safe against a dropped connection.

Reading is ``cat`` (or ``tar -c``) on a channel of its own. Writing cannot
simply be ``cat >file``: when the connection dies the remote ``cat`` sees an
ordinary end of input and the half-sent file would look complete. So the
writer sends *frames* (a decimal length on a line, then that many bytes,
taken by ``dd``) and a final ``0`` line that means "commit": only then
does the remote shell rename its temporary file over the destination. An
end of input anywhere else, a kill, or a failed write removes the temporary
file and leaves the destination as it was::

    with RemoteWriter(machine, "/srv/data.bin") as f:   # .data.bin.tether-XXXXXX meanwhile
        f.write(chunk)                                     # framed
    # committed: renamed over /srv/data.bin

Every file name reaches the remote shell as a positional parameter (``"$1"``),
never inside the script text, so no name can change what the script does.
"""

from __future__ import annotations

import io
import os
import threading
from collections import deque
from typing import Any

from ..commands.quoting import shell_line
from ..exceptions import TransferError
from ..transports.base import DEVNULL, PIPE

# read frames from stdin: "<n>\n" then n bytes; "0\n" ends them all (status 0);
# anything else (end of input, a bad header, a short frame) is status 1. dd takes
# exactly n bytes (never more: the next header stays unread) in 1 MiB reads;
# head -c would do 8 KiB ones, which caps a transfer near 400 MB/s
_FRAMES = (
    "frames() { while IFS= read -r n; do case $n in ''|*[!0-9]*) return 1;; 0) return 0;; esac; "
    'dd bs=1M iflag=fullblock,count_bytes count="$n" status=none || return 1; done; return 1; }; '
)

# the temp name's parts: the directory by parameter expansion (command
# substitution would eat a trailing newline of a name), a short prefix of the name
_TEMP_NAME = 'd=${1%/*}; d=${d:-/}; b=$(printf %.40s "${1##*/}"); '

# $1 = destination, $2 = octal mode or "" (keep the existing file's, else 0666 & ~umask)
RECEIVE_FILE = _FRAMES + _TEMP_NAME + (
    't=$(mktemp "$d/.$b.tether-XXXXXX") || exit 1; '
    "trap 'rm -f -- \"$t\"' EXIT; trap 'exit 1' HUP INT TERM PIPE; "
    'frames >"$t" || exit 1; '
    'if [ -n "$2" ]; then m=$2; elif [ -e "$1" ]; then m=$(stat -L -c %a -- "$1"); '
    'else m=$(printf %o $((0666 & ~$(umask)))); fi; '
    'chmod "$m" "$t" && mv -fT -- "$t" "$1" && trap - EXIT'
)

# $1 = destination directory: a tar stream of its content, framed; replaces what was there
RECEIVE_TREE = _FRAMES + _TEMP_NAME + (
    't=$(mktemp -d "$d/.$b.tether-XXXXXX") || exit 1; '
    "trap 'rm -rf -- \"$t\"' EXIT; trap 'exit 1' HUP INT TERM PIPE; "
    'mkdir "$t/x" && { frames; echo $? >"$t/ok"; } | tar -xf - --no-same-owner -C "$t/x" || exit 1; '
    '[ "$(cat "$t/ok")" = 0 ] || exit 1; '
    '{ [ ! -e "$1" ] || rm -rf -- "$1"; } && mv -f -- "$t/x" "$1"'
)

# $1 = destination, $2 = source on the same machine: copied beside $1, then renamed over it
COPY_HERE = _TEMP_NAME + (
    't=$(mktemp -d "$d/.$b.tether-XXXXXX") || exit 1; trap \'rm -rf -- "$t"\' EXIT; '
    'cp -a -- "$2" "$t/x" && { [ ! -d "$1" ] || [ -L "$1" ] || rm -rf -- "$1"; } && mv -fT -- "$t/x" "$1"'
)

SEND_TREE = 'cd -- "$1" && exec tar -cf - .'

_STDERR_TAIL = 20
FRAME_SIZE = 4 << 20  # a frame costs one `dd` process remotely: keep them big


def script_line(script: str, *args: str) -> str:
    """``sh -c SCRIPT sh ARGS...`` as one quoted shell line."""
    return shell_line(["sh", "-c", script, "sh", *args])


class Channel:
    """A running command with raw pipes (no per-chunk hop through an event loop).

    Its stderr is collected on a thread (the last lines go into errors), so
    it can never block the command.
    """

    def __init__(self, process: Any, host: str) -> None:
        self.process = process
        self.host = host
        self._stderr: deque[bytes] = deque(maxlen=_STDERR_TAIL)
        self._drainer = threading.Thread(target=self._drain, name="tether-stderr", daemon=True)
        self._drainer.start()

    @classmethod
    def remote(cls, machine: Any, line: str, *, stdin: Any = DEVNULL, stdout: Any = DEVNULL) -> Channel:
        """Shell ``line`` on the sync remote ``machine``, on a channel of its own."""
        return cls(machine.aio._open_channel(line, stdin=stdin, stdout=stdout, stderr=PIPE), machine.host)

    def _drain(self) -> None:
        stream = self.process.stderr
        for line in iter(stream.readline, b""):
            self._stderr.append(line)
        stream.close()

    def stderr_tail(self) -> str:
        self._drainer.join(2)
        return b"".join(self._stderr).decode("utf-8", "replace").strip()

    def finish(self, what: str) -> None:
        """Wait for the exit; TransferError naming ``what`` unless it is 0."""
        rc = self.process.wait()
        if rc != 0:
            said = self.stderr_tail()
            raise TransferError(f"{what} failed on {self.host} (exit code {rc})" + (f": {said}" if said else ""), self.host)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class ChannelReader(io.RawIOBase):
    """A command's output as a binary file; its exit status is checked at the end."""

    def __init__(self, channel: Channel, what: str) -> None:
        self._what = what
        self._channel = channel
        self._stdout = channel.process.stdout
        self._at_end = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._stdout.readinto(buffer)
        if not count and not self._at_end:
            self._at_end = True
            self._channel.finish(self._what)  # a cut connection must not pass for the end of the file
        return count or 0

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._stdout.close()  # first: a sender blocked on a full pipe must see it go
            if not self._at_end:
                self._channel.kill()  # closed early: stop sending
        finally:
            super().close()


class CommittingWriter(io.RawIOBase):
    """A writer that commits at ``close()`` and discards at :meth:`abort`.

    Leaving a ``with`` block by an exception aborts; a writer dropped without
    ``close()`` aborts too (io's default ``__del__`` would close, i.e. commit).
    """

    def abort(self) -> None:
        raise NotImplementedError

    def __exit__(self, kind: Any, *rest: Any) -> None:
        if kind is not None:
            self.abort()
        else:
            self.close()

    def __del__(self) -> None:
        # dropped without close(): that is no commit (io's default would close, i.e. commit)
        if not self.closed:
            self.abort()


class RemoteWriter(CommittingWriter):
    """A remote file written atomically: framed bytes, committed at ``close()``.

    Leaving a ``with`` block by an exception, or :meth:`abort`, discards what
    was written. ``script`` is :data:`RECEIVE_FILE` or :data:`RECEIVE_TREE`.
    """

    def __init__(self, machine: Any, path: str, *, mode: int | None = None, script: str = RECEIVE_FILE) -> None:
        args = [path] + ([format(mode, "o") if mode is not None else ""] if script is RECEIVE_FILE else [])
        self._path = path
        self._channel = Channel.remote(machine, script_line(script, *args), stdin=PIPE)
        self._stdin = self._channel.process.stdin
        self._pending = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError("write to a closed remote file")
        view = memoryview(data).cast("B")
        if not self._pending and len(view) >= FRAME_SIZE:
            self._send(view)  # big writes go out as they are, no copy
        else:
            self._pending += view
            if len(self._pending) >= FRAME_SIZE:
                self._flush_pending()
        return len(view)

    def _flush_pending(self) -> None:
        if self._pending:
            self._send(memoryview(self._pending))
            self._pending = bytearray()

    def _send(self, view: memoryview) -> None:
        try:
            _write_all(self._stdin, b"%d\n" % len(view))
            _write_all(self._stdin, view)
        except (BrokenPipeError, ValueError) as exc:
            self.abort()
            raise TransferError(self._failure("the remote side stopped reading"), self._channel.host) from exc

    def send_file(self, source: Any, size: int, progress: Any = None) -> int:
        """Send ``size`` bytes of the regular file ``source`` as one frame, kernel to pipe (no copy here).

        ``progress(done)`` after each piece; returns the bytes sent. A file
        that shrank meanwhile fails the transfer rather than commit it short.
        """
        self._flush_pending()
        try:
            _write_all(self._stdin, b"%d\n" % size)
            self._stdin.flush()
            out, done = self._stdin.fileno(), 0
            while done < size:
                sent = os.sendfile(out, source.fileno(), done, min(size - done, FRAME_SIZE))
                if not sent:
                    raise TransferError(f"the source ended after {done} of {size} bytes", "localhost")
                done += sent
                if progress is not None:
                    progress(done)
        except (BrokenPipeError, ValueError) as exc:
            self.abort()
            raise TransferError(self._failure("the remote side stopped reading"), self._channel.host) from exc
        except BaseException:
            self.abort()
            raise
        return done

    def _failure(self, why: str) -> str:
        said = self._channel.stderr_tail()
        return f"writing {self._path} on {self._channel.host}: {why}" + (f" ({said})" if said else "")

    def close(self) -> None:
        """Send what is left and commit: the destination now holds exactly what was written."""
        if self.closed:
            return
        try:
            self._flush_pending()
            try:
                self._stdin.write(b"0\n")
                self._stdin.close()
            except BrokenPipeError as exc:
                self._channel.kill()
                raise TransferError(self._failure("the remote side stopped reading"), self._channel.host) from exc
            self._channel.finish(f"writing {self._path}")
        finally:
            super().close()

    def abort(self) -> None:
        """Discard everything written; the destination keeps its old content."""
        if self.closed:
            return
        try:
            self._channel.kill()  # the remote shell sees end of input without the commit frame
            try:
                self._stdin.close()
            except OSError:
                pass
        finally:
            super().close()


def _write_all(stream: Any, data: Any) -> None:
    # an unbuffered pipe (a native channel's) may take part of a big write
    view = memoryview(data)
    while view:
        view = view[stream.write(view) :]
