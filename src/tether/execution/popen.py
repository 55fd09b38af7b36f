"""Blocking handles over running jobs: ``Popen`` (from ``popen()``) and ``Future`` (``& BG``).

The streams are ordinary binary file objects; each read or write is one hop
to tether's loop, in chunks of up to 64 KiB, so reading a huge output through
``p.stdout`` uses bounded memory and any machine's process reads the same way.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
from collections.abc import Iterator
from typing import Any

from .._portal import portal
from ..exceptions import PortalError, ProcessTimedOut
from .job import BY_POSITION, Job, decode

_CHUNK = 1 << 16


class _StreamReaderIO(io.RawIOBase):
    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = portal.call(self._reader.read, min(len(buffer), _CHUNK))
        buffer[: len(data)] = data
        return len(data)


class _StreamWriterIO(io.RawIOBase):
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        portal.call(_write, self._writer, data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                portal.call(_close_writer, self._writer)
            except PortalError:  # interpreter exit: the loop is gone, and the pipe goes with us
                pass
        super().close()


async def _write(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await writer.wait_closed()
    except (BrokenPipeError, ConnectionResetError):
        pass


class _JobHandle:
    """What both sync handles tell about their job's processes."""

    _job: Job

    @property
    def pid(self) -> int | None:
        """The process id; on a remote machine, the remote one."""
        return self._job.pid

    @property
    def client_pid(self) -> int | None:
        """The local process's id (for a remote command, its ssh or plink client)."""
        return self._job.client_pid


class Popen(_JobHandle):
    """A started command: ``stdin``/``stdout``/``stderr`` files, ``pid``, ``wait()``, ``kill()``.

    ::

        p = local["sort"].popen()
        p.stdin.write(b"b\\na\\n"); p.stdin.close()
        p.stdout.read()           # b'a\\nb\\n'
        p.wait()                  # 0
    """

    def __init__(self, job: Job) -> None:
        self._job = job
        self.stdin = io.BufferedWriter(_StreamWriterIO(job.stdin), _CHUNK) if job.stdin else None
        self.stdout = io.BufferedReader(_StreamReaderIO(job.stdout), _CHUNK) if job.stdout else None
        self.stderr = io.BufferedReader(_StreamReaderIO(job.stderr), _CHUNK) if job.stderr else None

    @property
    def argv(self) -> list[str]:
        return self._job.argv

    @property
    def returncode(self) -> int | None:
        return self._job.returncode

    def __repr__(self) -> str:
        return f"<Popen pid={self.pid} returncode={self.returncode} {self.argv!r}>"

    def poll(self) -> int | None:
        return self._job.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for exit; past ``timeout`` the process group is killed (ProcessTimedOut)."""
        try:
            return portal.call(_wait_for, self._job.wait(), timeout)
        except asyncio.TimeoutError:
            self.kill()
            portal.call(self._job.wait)
            raise ProcessTimedOut(self.argv, timeout, host=self._job.host) from None

    def communicate(self, input: bytes | None = None, timeout: float | None = None) -> tuple[bytes, bytes]:
        """Send ``input``, read both outputs to the end concurrently, wait; ``(out, err)`` bytes."""
        self._detach_buffers()
        return portal.call(self._job.communicate, input, timeout)

    def run(self, retcode: Any = 0, timeout: float | None = None) -> tuple:
        """Wait and return ``(rc, stdout, stderr)`` decoded, checking the exit code."""
        self._detach_buffers()
        return portal.call(self._job.run, retcode, timeout)

    def iter_lines(
        self,
        retcode: Any = 0,
        timeout: float | None = None,
        line_timeout: float | None = None,
        mode: str = BY_POSITION,
    ) -> Iterator[tuple]:
        """Yield ``(out, None)`` / ``(None, err)`` lines as they arrive (``mode=BY_TYPE``: ``(1|2, line)``)."""
        self._detach_buffers()
        agen: Any = self._job.iter_lines(retcode, timeout, line_timeout, mode)
        try:
            while True:
                try:
                    item = portal.call(agen.__anext__)
                except StopAsyncIteration:
                    return
                yield item
        finally:
            portal.call(agen.aclose)

    def send_signal(self, sig: int) -> None:
        self._job.send_signal(sig)

    def kill(self) -> None:
        self._job.kill()

    def terminate(self) -> None:
        self._job.terminate()

    def _detach_buffers(self) -> None:
        """Hand the streams back to the job: the job reads them directly from here on."""
        if self.stdin is not None and not self.stdin.closed:
            self.stdin.flush()

    def __enter__(self) -> Popen:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.stdin is not None and not self.stdin.closed:
            self.stdin.close()
        if self.returncode is None:
            if exc[0] is not None:
                self.kill()
            self.communicate()


async def _wait_for(awaitable: Any, timeout: float | None) -> Any:
    return await asyncio.wait_for(awaitable, timeout)


class Future(_JobHandle):
    """What ``cmd & BG`` returns: the command runs while you do other things.

    ``wait()`` blocks and raises ProcessExecutionError on an unexpected exit
    code; ``ready()`` polls; ``stdout``, ``stderr`` and ``returncode`` wait.
    """

    def __init__(self, job: Job, future: concurrent.futures.Future, expected: Any) -> None:
        self._job = job
        self._future = future
        self.expected = expected
        self._result: tuple | None = None

    def ready(self) -> bool:
        return self._future.done()

    poll = ready

    def wait(self, timeout: float | None = None) -> tuple:
        if self._result is None:
            try:
                self._result = self._future.result(timeout)
            except concurrent.futures.TimeoutError:
                raise ProcessTimedOut(self._job.argv, timeout, host=self._job.host) from None
        return self._result

    def kill(self) -> None:
        self._job.kill()

    @property
    def returncode(self) -> int:
        return self.wait()[0]

    @property
    def stdout(self) -> Any:
        return self.wait()[1]

    @property
    def stderr(self) -> Any:
        return self.wait()[2]

    def __repr__(self) -> str:
        state = "done" if self.ready() else "running"
        return f"<Future {state} pid={self.pid} {self._job.argv!r}>"


__all__ = ["Future", "Popen", "decode"]
