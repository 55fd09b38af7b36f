"""Processes on this machine.

Why not ``asyncio.create_subprocess_exec``: its transports cost about 0.5 ms
of CPU per process here (twice what fork+exec itself costs), which made every
local command slower than plumbum's plain ``subprocess``. This module starts
processes with :class:`subprocess.Popen` (vfork + exec, as fast as it gets),
learns about their exit through a pidfd in the event loop (a waiter thread
where pidfds are missing), and moves pipe data with plain non-blocking reads
and writes registered on the loop.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from .base import PIPE, Process, Transport

_CHUNK = 1 << 16
_LIMIT = 1 << 20  # StreamReader buffer: reading pauses above 2x this


class _PipeReader:
    """Feeds a non-blocking pipe fd into an asyncio.StreamReader, with back-pressure."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fileobj: Any) -> None:
        self._loop = loop
        self._file = fileobj
        self._fd = fileobj.fileno()
        os.set_blocking(self._fd, False)
        self.reader = asyncio.StreamReader(limit=_LIMIT, loop=loop)
        self.reader.set_transport(self)  # type: ignore[arg-type]  # for pause/resume_reading
        self._paused = False
        self._closed = False
        loop.add_reader(self._fd, self._on_readable)

    def _on_readable(self) -> None:
        try:
            data = os.read(self._fd, _CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._finish(exc)
            return
        if data:
            self.reader.feed_data(data)
        else:
            self._finish(None)

    def _finish(self, exc: Exception | None) -> None:
        if exc is None:
            self.reader.feed_eof()
        else:
            self.reader.set_exception(exc)
        self.close()

    # the "transport" interface StreamReader uses for flow control
    def pause_reading(self) -> None:
        if not self._paused and not self._closed:
            self._paused = True
            self._loop.remove_reader(self._fd)

    def resume_reading(self) -> None:
        if self._paused and not self._closed:
            self._paused = False
            self._loop.add_reader(self._fd, self._on_readable)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._loop.remove_reader(self._fd)
            self._file.close()


class PipeWriter:
    """The StreamWriter subset tether uses (write, drain, close, wait_closed, is_closing)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fileobj: Any) -> None:
        self._loop = loop
        self._file = fileobj
        self._fd = fileobj.fileno()
        os.set_blocking(self._fd, False)
        self._buffer = bytearray()
        self._closing = False
        self._error: BaseException | None = None
        self._waiters: list[asyncio.Future] = []

    def write(self, data: bytes) -> None:
        if self._closing:
            raise BrokenPipeError("stdin is closed")
        if self._error is not None:
            raise self._error
        if not self._buffer:
            try:
                sent = os.write(self._fd, data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._fail(exc)
                raise
            data = data[sent:]
            if not data:
                return
            self._loop.add_writer(self._fd, self._on_writable)
        self._buffer += data

    def _on_writable(self) -> None:
        try:
            sent = os.write(self._fd, self._buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail(exc)
            return
        del self._buffer[:sent]
        if not self._buffer:
            self._loop.remove_writer(self._fd)
            self._wake()
            if self._closing:
                self._file.close()

    def _fail(self, exc: BaseException) -> None:
        self._error = exc
        self._buffer.clear()
        self._loop.remove_writer(self._fd)
        self._wake()

    def _wake(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def drain(self) -> None:
        if self._buffer:
            waiter = self._loop.create_future()
            self._waiters.append(waiter)
            await waiter
        if self._error is not None:
            raise self._error

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if not self._buffer:
            self._file.close()

    async def wait_closed(self) -> None:
        await self.drain()


class LocalProcess(Process):
    def __init__(self, popen: subprocess.Popen, loop: asyncio.AbstractEventLoop, own_group: bool) -> None:
        self._popen = popen
        self._own_group = own_group
        self._loop = loop
        self.pid: int = popen.pid
        self._exited = loop.create_future()
        self.stdin = PipeWriter(loop, popen.stdin) if popen.stdin else None  # type: ignore[assignment]
        self.stdout = _PipeReader(loop, popen.stdout).reader if popen.stdout else None
        self.stderr = _PipeReader(loop, popen.stderr).reader if popen.stderr else None
        self._watch_exit()

    def _watch_exit(self) -> None:
        finished = getattr(self._popen, "add_done_callback", None)
        if finished is not None:  # an SSH channel posing as a process: it says when it ends
            finished(self._reap_soon)
            return
        try:
            pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):  # no pidfds here: a thread waits instead
            threading.Thread(target=self._wait_in_thread, daemon=True).start()
            return

        def on_exit() -> None:
            self._loop.remove_reader(pidfd)
            os.close(pidfd)
            self._reap()

        self._loop.add_reader(pidfd, on_exit)

    def _reap_soon(self, _: Any = None) -> None:
        try:
            self._loop.call_soon_threadsafe(self._reap)
        except RuntimeError:  # the loop is closed (interpreter exit): nobody waits any more
            pass

    def _wait_in_thread(self) -> None:
        self._popen.wait()
        self._reap_soon()

    def _reap(self) -> None:
        code = self._popen.wait()
        if not self._exited.done():
            self._exited.set_result(code)

    @property
    def returncode(self) -> int | None:
        return self._popen.returncode

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    def send_signal(self, sig: int) -> None:
        kill_group(self._popen, sig, self._own_group)


def pipe_reader(fd: int) -> asyncio.StreamReader:
    """An asyncio.StreamReader over the read end of a pipe (takes ownership of ``fd``)."""
    return _PipeReader(asyncio.get_running_loop(), os.fdopen(fd, "rb", 0)).reader


def spawn_popen(
    argv: Sequence[str],
    *,
    stdin: Any = PIPE,
    stdout: Any = PIPE,
    stderr: Any = PIPE,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    detach: bool = False,
) -> subprocess.Popen:
    """Start one process; blocking callers use this directly, no event loop involved.

    Unless it runs in the foreground (stdin and stdout inherited) the process
    leads its own process group, so a timeout or cancel kills the whole tree;
    a foreground command stays in ours to receive the terminal's ^C.
    """
    kwargs: dict[str, Any] = {}
    if detach:
        kwargs["start_new_session"] = True
    elif not is_foreground(stdin, stdout):
        if sys.version_info >= (3, 11):
            kwargs["process_group"] = 0
        else:  # pragma: no cover - 3.10
            kwargs["preexec_fn"] = os.setpgrp
    return subprocess.Popen(
        list(argv), stdin=stdin, stdout=stdout, stderr=stderr, cwd=cwd,
        env=dict(env) if env is not None else None, **kwargs,
    )


def is_foreground(stdin: Any, stdout: Any) -> bool:
    return stdin is None and stdout is None


def kill_group(popen: subprocess.Popen, sig: int, own_group: bool) -> None:
    """Signal the process's group (or just it, when it shares ours)."""
    if popen.pid is None:  # not a local process (an SSH channel): it signals itself
        popen.send_signal(sig)
        return
    # The group id is the leader's pid; it stays valid (and is never reused)
    # while any member lives, so this also reaches children of an exited leader.
    try:
        if own_group:
            os.killpg(popen.pid, sig)
        elif popen.returncode is None:
            os.kill(popen.pid, sig)
    except ProcessLookupError:
        pass


class LocalTransport(Transport):
    host = None

    async def spawn(
        self,
        argv: Sequence[str],
        *,
        stdin: Any = PIPE,
        stdout: Any = PIPE,
        stderr: Any = PIPE,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        detach: bool = False,
    ) -> Process:
        popen = spawn_popen(argv, stdin=stdin, stdout=stdout, stderr=stderr, cwd=cwd, env=env, detach=detach)
        return LocalProcess(popen, asyncio.get_running_loop(), own_group=not is_foreground(stdin, stdout))
