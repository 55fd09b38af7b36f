"""A persistent shell: many commands, one process, state kept between them.

::

    s = local.session()
    s.run("cd /tmp")
    s.run("ls | grep b")      # -> (0, 'bin\\n', '')  run in /tmp
    s.close()

Framing: each command is sent as ``command eval '<quoted text>' </dev/null``
followed by two ``printf`` lines that write a per-session random marker and
the exit status to stdout and a marker to stderr. Output is whatever came
before the markers, byte for byte, whether or not it ended in a newline, and
the exit status is the one ``$?`` held right after the command (plumbum's
session mis-framed these, its issue #830). ``command eval`` keeps the shell
alive through a syntax error; a command that exits the shell ends the session
with ShellSessionError.

The framing is I/O-free (:class:`Framing`); :class:`ShellSession` drives it
with blocking reads on the shell's pipes in the caller's thread (tens of
microseconds a command), :class:`AsyncShellSession` with the event loop.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import select
import signal
import subprocess
import threading
import time
from typing import Any

from ..commands.base import BaseCommand
from ..commands.quoting import quote
from ..exceptions import ProcessExecutionError, ProcessTimedOut, ShellSessionError
from ..transports.local import kill_group
from .job import Job, decode, expected_codes

_CHUNK = 1 << 16


class Framing:
    """What to send for one command, and how to find the end of its output."""

    def __init__(self, encoding: str = "utf-8") -> None:
        self.encoding = encoding
        self.marker = "__tether_" + secrets.token_hex(12)
        self._err_end = (self.marker + "\n").encode()
        self._out_end = re.compile(re.escape(self.marker.encode()) + rb":(\d+)\n\Z")
        # the stdout end line is the marker, ':', at most 3 digits and '\n'
        self._out_tail = len(self.marker) + 5

    def script(self, text: str) -> bytes:
        # the command's stdin is /dev/null: it must not eat the next commands
        return (
            f"command eval {quote(text)} </dev/null\n"
            # stderr's marker first: by the time stdout's arrives it is usually there too
            f"_tether_rc=$?; printf '%s\\n' {self.marker} >&2; printf '%s:%d\\n' {self.marker} $_tether_rc\n"
        ).encode(self.encoding, "surrogateescape")

    def stdout_end(self, buffer: bytes | bytearray) -> tuple[int, int] | None:
        """``(length of the command's stdout, exit status)`` once the end line arrived."""
        if not buffer.endswith(b"\n"):
            return None
        start = max(0, len(buffer) - self._out_tail)
        found = self._out_end.search(buffer, start)
        return (found.start(), int(found.group(1))) if found else None

    def stderr_end(self, buffer: bytes | bytearray) -> int | None:
        """Length of the command's stderr once the end marker arrived."""
        return len(buffer) - len(self._err_end) if buffer.endswith(self._err_end) else None

    def result(self, text: str, rc: int, out: bytes, err: bytes, retcode: Any, host: str | None) -> tuple:
        stdout, stderr = decode(out, self.encoding), decode(err, self.encoding)
        expected = expected_codes(retcode)
        if expected is not None and rc not in expected:
            raise ProcessExecutionError(["sh", "-c", text], rc, stdout, stderr, host)
        return rc, stdout, stderr


def _command_text(cmd: Any) -> str:
    return cmd.shell_line() if isinstance(cmd, BaseCommand) else str(cmd)


def _ended(code: int | None, stderr: bytes = b"") -> ShellSessionError:
    text = stderr.decode("utf-8", "replace").strip()
    said = f": {text[-500:]}" if text else ""
    return ShellSessionError(f"the shell exited (exit code {code}) during the command{said}")


def _rest_of(fd: int, wait: float = 1.0) -> bytes:
    """Whatever is left to read on ``fd`` (the process has exited), within ``wait`` seconds."""
    chunks = []
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + wait
    while poller.poll(max(0.0, deadline - time.monotonic()) * 1000):
        chunk = os.read(fd, _CHUNK)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write all of ``data`` to file descriptor ``fd`` (a pipe may take part of a big write)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class ShellSession:
    """A shell process driven with blocking I/O on its pipes.

    Any machine whose session is a local process (the local shell, or an
    ``ssh``/``plink`` client running the remote one) uses this class.
    """

    def __init__(self, process: subprocess.Popen, encoding: str = "utf-8", host: str | None = None) -> None:
        assert process.stdin and process.stdout and process.stderr
        self._process = process
        self._framing = Framing(encoding)
        self._host = host
        self._lock = threading.Lock()
        self._closed = False
        self._stdin_fd = process.stdin.fileno()
        self._out_fd, self._err_fd = process.stdout.fileno(), process.stderr.fileno()
        self._poller = select.poll()
        self._poller.register(self._out_fd, select.POLLIN)
        self._poller.register(self._err_fd, select.POLLIN)

    @property
    def alive(self) -> bool:
        return not self._closed and self._process.poll() is None

    def run(self, cmd: Any, retcode: Any = 0, timeout: float | None = None) -> tuple:
        """Run shell text (or a command object) in the session: ``(rc, out, err)``."""
        text = _command_text(cmd)
        with self._lock:
            if not self.alive:
                raise ShellSessionError("the shell session has ended; start a new one with session()")
            try:
                rc, out, err = self._exchange(text, timeout)
            except BaseException:
                self._end(kill=True)  # a half-read exchange cannot be resynchronised
                raise
        return self._framing.result(text, rc, out, err, retcode, self._host)

    def _exchange(self, text: str, timeout: float | None) -> tuple[int, bytes, bytes]:
        process = self._process
        try:
            write_all(self._stdin_fd, self._framing.script(text))
        except BrokenPipeError:
            code = process.wait()
            raise _ended(code, _rest_of(self._err_fd)) from None
        out_fd, err_fd, poller = self._out_fd, self._err_fd, self._poller
        buffers = {out_fd: bytearray(), err_fd: bytearray()}
        out_end: tuple[int, int] | None = None
        err_end: int | None = None
        deadline = None if timeout is None else time.monotonic() + timeout
        while out_end is None or err_end is None:
            wait_ms = None if deadline is None else max(0.0, deadline - time.monotonic()) * 1000
            events = poller.poll(wait_ms)
            if not events:
                out, err = bytes(buffers[out_fd]), bytes(buffers[err_fd])
                encoding = self._framing.encoding
                raise ProcessTimedOut(["sh", "-c", text], timeout, decode(out, encoding), decode(err, encoding), self._host)
            for fd, _ in events:
                chunk = os.read(fd, _CHUNK)
                if not chunk:
                    code = process.wait()
                    err = bytes(buffers[err_fd]) + (_rest_of(err_fd) if fd != err_fd else b"")
                    raise _ended(code, err)
                buffer = buffers[fd]
                buffer += chunk
                if fd == out_fd:
                    out_end = self._framing.stdout_end(buffer)
                else:
                    err_end = self._framing.stderr_end(buffer)
        assert out_end is not None and err_end is not None
        return out_end[1], bytes(buffers[out_fd][: out_end[0]]), bytes(buffers[err_fd][:err_end])

    def close(self) -> None:
        """End the shell (EOF on its stdin; killed if it lingers) and free its pipes."""
        self._end(kill=False)

    def _end(self, kill: bool) -> None:
        if self._closed:
            return
        self._closed = True
        process = self._process
        try:
            process.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass
        if not kill:
            try:
                process.wait(2)
            except subprocess.TimeoutExpired:
                kill = True
        if kill:
            # the shell leads its own process group: this also ends what it was running
            kill_group(process, signal.SIGKILL, own_group=True)
            process.wait()
        process.stdout.close()  # type: ignore[union-attr]
        process.stderr.close()  # type: ignore[union-attr]

    def __enter__(self) -> ShellSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class AsyncShellSession:
    """The same session for async code, over a Job's streams."""

    def __init__(self, job: Job, encoding: str = "utf-8") -> None:
        self._job = job
        self._framing = Framing(encoding)
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def alive(self) -> bool:
        return not self._closed and self._job.returncode is None

    async def run(self, cmd: Any, retcode: Any = 0, timeout: float | None = None) -> tuple:
        """Run shell text (or a command object) in the session: ``(rc, out, err)``."""
        text = _command_text(cmd)
        async with self._lock:
            if not self.alive:
                raise ShellSessionError("the shell session has ended; start a new one with session()")
            try:
                rc, out, err = await asyncio.wait_for(self._exchange(text), timeout)
            except asyncio.TimeoutError:
                await self.close()
                raise ProcessTimedOut(["sh", "-c", text], timeout, host=self._job.host) from None
            except BaseException:
                await self.close()  # a half-read exchange cannot be resynchronised
                raise
        return self._framing.result(text, rc, out, err, retcode, self._job.host)

    async def _exchange(self, text: str) -> tuple[int, bytes, bytes]:
        stdin = self._job.stdin
        assert stdin is not None
        stdin.write(self._framing.script(text))
        await stdin.drain()
        (out, (out_len, rc)), (err, err_len) = await asyncio.gather(
            self._read_until(self._job.stdout, self._framing.stdout_end),
            self._read_until(self._job.stderr, self._framing.stderr_end),
        )
        return rc, out[:out_len], err[:err_len]

    async def _read_until(self, reader: Any, find_end: Any) -> tuple[bytes, Any]:
        """Read until ``find_end(buffer)`` says the command's output is complete."""
        buffer = bytearray()
        while True:
            chunk = await reader.read(_CHUNK)
            if not chunk:
                raise _ended(await self._job.wait())
            buffer += chunk
            end = find_end(buffer)
            if end is not None:
                return bytes(buffer), end

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        stdin = self._job.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()
        try:
            await asyncio.wait_for(self._job.wait(), 2)
        except asyncio.TimeoutError:
            await self._job._reap()

    async def __aenter__(self) -> AsyncShellSession:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

