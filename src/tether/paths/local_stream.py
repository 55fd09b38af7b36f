"""Local ends of transfers: files and trees that appear only when complete.

The remote ends (:mod:`tether.paths.remote_stream`) have the same face:
``write``, ``close`` (commit) and ``abort`` (discard), and ``with`` discards
on an exception, so a copy between any two machines is written once.
"""

from __future__ import annotations

import os
import shutil
import stat as stat_module
import subprocess
import tempfile
from typing import Any

from ..exceptions import TransferError
from .remote_stream import Channel, ChannelReader, CommittingWriter


class AtomicFile(CommittingWriter):
    """A binary file that replaces ``path`` at ``close()``; ``abort()`` leaves it untouched.

    The data goes to a temporary file in the same directory, is flushed to
    disk and renamed over ``path``. The new file gets ``mode`` if given, else
    the old file's permissions, else ``0o666`` less the umask.
    """

    def __init__(self, path: str, mode: int | None = None) -> None:
        self._path = path
        self._mode = mode
        directory = os.path.dirname(path) or "."
        fd, self._temp = tempfile.mkstemp(prefix=".tether-", suffix=".part", dir=directory)
        self._file = os.fdopen(fd, "wb")

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return self._file.write(data)

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.chmod(self._temp, self._final_mode())
            os.replace(self._temp, self._path)
        except BaseException:
            self._discard()
            raise
        finally:
            super().close()

    def _final_mode(self) -> int:
        if self._mode is not None:
            return self._mode
        try:
            return stat_module.S_IMODE(os.stat(self._path).st_mode)
        except FileNotFoundError:
            return 0o666 & ~umask()

    def abort(self) -> None:
        if not self.closed:
            self._discard()
            super().close()

    def _discard(self) -> None:
        self._file.close()
        try:
            os.unlink(self._temp)
        except FileNotFoundError:
            pass


class TreeWriter(CommittingWriter):
    """A tar stream unpacked beside ``path``, moved into place at ``close()``.

    Local ``tar`` refuses absolute member names and ``..``, and files belong
    to us, not to the sender's user ids; what was at ``path`` is replaced
    only when the whole stream unpacked cleanly.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        parent = os.path.dirname(path) or "."
        self._temp = tempfile.mkdtemp(prefix=".tether-", dir=parent)
        unpack = os.path.join(self._temp, "x")
        os.mkdir(unpack)
        process = subprocess.Popen(
            ["tar", "-xf", "-", "--no-same-owner", "-C", unpack], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self._channel = Channel(process, "localhost")

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        try:
            return self._channel.process.stdin.write(data)  # type: ignore[no-any-return,unused-ignore]
        except BrokenPipeError as exc:
            self.abort()
            raise TransferError(f"unpacking into {self._path} failed: {self._channel.stderr_tail()}") from exc

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._channel.process.stdin.close()
            self._channel.finish(f"unpacking into {self._path}")
            if os.path.lexists(self._path):
                if os.path.isdir(self._path) and not os.path.islink(self._path):
                    shutil.rmtree(self._path)
                else:
                    os.unlink(self._path)
            os.replace(os.path.join(self._temp, "x"), self._path)
        finally:
            shutil.rmtree(self._temp, ignore_errors=True)
            super().close()

    def abort(self) -> None:
        if not self.closed:
            self._channel.kill()
            shutil.rmtree(self._temp, ignore_errors=True)
            super().close()


def tree_reader(path: str) -> ChannelReader:
    """The directory ``path``'s content as a tar stream (local ``tar``)."""
    process = subprocess.Popen(
        ["tar", "-cf", "-", "-C", path, "."], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    return ChannelReader(Channel(process, "localhost"), f"packing {path}")


def umask() -> int:
    """The process umask, read from /proc (no set-and-restore race in threaded code)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022
