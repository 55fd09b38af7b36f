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
"""

from __future__ import annotations

import asyncio
import re
import secrets
from typing import Any

from .._portal import portal
from ..commands.base import BaseCommand
from ..commands.quoting import quote
from ..exceptions import ProcessExecutionError, ProcessTimedOut, ShellSessionError
from .job import Job, decode, expected_codes


class AsyncShellSession:
    def __init__(self, job: Job, encoding: str = "utf-8") -> None:
        self._job = job
        self._encoding = encoding
        self._marker = ("__tether_" + secrets.token_hex(12)).encode()
        self._out_end = re.compile(re.escape(self._marker) + rb":(\d+)\n")
        self._err_end = self._marker + b"\n"
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def alive(self) -> bool:
        return not self._closed and self._job.returncode is None

    async def run(self, cmd: Any, retcode: Any = 0, timeout: float | None = None) -> tuple:
        """Run shell text (or a command object) in the session: ``(rc, out, err)``."""
        text = cmd.shell_line() if isinstance(cmd, BaseCommand) else str(cmd)
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
        stdout, stderr = decode(out, self._encoding), decode(err, self._encoding)
        expected = expected_codes(retcode)
        if expected is not None and rc not in expected:
            raise ProcessExecutionError(["sh", "-c", text], rc, stdout, stderr, self._job.host)
        return rc, stdout, stderr

    async def _exchange(self, text: str) -> tuple[int, bytes, bytes]:
        marker = self._marker.decode()
        script = (
            f"command eval {quote(text)} </dev/null\n"
            f"printf '%s:%d\\n' {marker} \"$?\"\n"
            f"printf '%s\\n' {marker} >&2\n"
        )
        stdin = self._job.stdin
        assert stdin is not None
        stdin.write(script.encode(self._encoding, "surrogateescape"))
        await stdin.drain()
        (out, rc), (err, _) = await asyncio.gather(
            self._read_until(self._job.stdout, self._out_end), self._read_until(self._job.stderr, None)
        )
        return rc, out, err

    async def _read_until(self, reader: Any, pattern: re.Pattern | None) -> tuple[bytes, int]:
        buffer = bytearray()
        end = self._err_end
        while True:
            if pattern is not None:
                found = pattern.search(buffer)
                if found:
                    return bytes(buffer[: found.start()]), int(found.group(1))
            elif buffer.endswith(end):
                return bytes(buffer[: -len(end)]), 0
            chunk = await reader.read(1 << 16)
            if not chunk:
                code = await self._job.wait()
                raise ShellSessionError(f"the shell exited (exit code {code}) during the command")
            buffer += chunk

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


class ShellSession:
    """Blocking facade over :class:`AsyncShellSession`."""

    def __init__(self, aio: AsyncShellSession) -> None:
        self.aio = aio

    @property
    def alive(self) -> bool:
        return self.aio.alive

    def run(self, cmd: Any, retcode: Any = 0, timeout: float | None = None) -> tuple:
        return portal.call(self.aio.run, cmd, retcode, timeout)

    def close(self) -> None:
        portal.call(self.aio.close)

    def __enter__(self) -> ShellSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
