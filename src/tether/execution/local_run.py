"""Running a local plan to completion on the caller's thread, no event loop.

``local["ls"]()`` is the most common call in tether, so the blocking API runs
it the way ``subprocess.run`` does: spawn, then one ``poll()`` loop that
feeds stdin data and drains stdout and stderr concurrently (no pipe can fill
up and stall the process), then wait. Going through asyncio instead cost
about 0.2 ms per command, which made tether slower than plumbum.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..commands.plan import Plan
from ..exceptions import ProcessTimedOut
from ..transports.local import kill_group
from .job import check_exit, decode, log_finished, pipefail, run_killers

_CHUNK = 1 << 16
_IN = select.POLLIN | select.POLLHUP | select.POLLERR
_OUT = select.POLLOUT | select.POLLERR


@dataclass
class Spawned:
    """The processes of a local plan, just started."""

    #: the plan as run: remote stages replaced by their local client processes
    plan: Plan
    own_group: bool
    #: end the remote side of client processes (killing ``ssh`` alone would not)
    remote_killers: list[Callable[[int], None]] = field(default_factory=list)
    popens: list[subprocess.Popen] = field(default_factory=list)
    #: read end of the stderr pipe all stages share (pipelines only)
    shared_err_fd: int | None = None
    #: ``cmd << data``: (stage index, bytes to write to its stdin)
    stdin_data: list[tuple[int, bytes]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def kill(self) -> None:
        run_killers(self.remote_killers)
        for popen in self.popens:
            kill_group(popen, signal.SIGKILL, self.own_group)

    def abandon(self) -> None:
        """Kill and reap everything and close every pipe (start failed or was interrupted)."""
        self.kill()
        for popen in self.popens:
            popen.wait()
        self.close_pipes()

    def close_pipes(self) -> None:
        for popen in self.popens:
            for stream in (popen.stdin, popen.stdout, popen.stderr):
                if stream is not None:
                    try:
                        stream.close()
                    except OSError:  # BrokenPipeError flushing a dead reader's stdin
                        pass
        if self.shared_err_fd is not None:
            os.close(self.shared_err_fd)
            self.shared_err_fd = None


def run_spawned(
    spawned: Spawned,
    *,
    retcode: Any = 0,
    timeout: float | None = None,
    echo: tuple[Callable[[bytes], None], Callable[[bytes], None]] | None = None,
    keep_output: bool = True,
) -> tuple[int, Any, Any]:
    """Feed, drain and wait; check the exit code; return ``(rc, stdout, stderr)`` decoded."""
    plan = spawned.plan
    deadline = None if timeout is None else time.monotonic() + timeout
    out: list[bytes] = []
    err: list[bytes] = []
    try:
        _pump(spawned, out, err, deadline, echo, keep_output)
        codes = [_wait(p, deadline) for p in spawned.popens]
    except subprocess.TimeoutExpired:
        spawned.abandon()
        raise ProcessTimedOut(
            plan.argv_display, timeout, decode(b"".join(out), plan.encoding), decode(b"".join(err), plan.encoding)
        ) from None
    except BaseException:
        spawned.abandon()  # ^C or any error: nothing we started outlives the call
        raise
    spawned.close_pipes()
    stdout, stderr = decode(b"".join(out), plan.encoding), decode(b"".join(err), plan.encoding)
    spawned.remote_killers.clear()  # finished: nothing left to kill
    log_finished(plan, codes, None, spawned.started)
    check_exit(plan, codes, retcode, stdout, stderr, None)
    return pipefail(codes), stdout, stderr


def _wait(popen: subprocess.Popen, deadline: float | None) -> int:
    return popen.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))


def _pump(
    spawned: Spawned,
    out: list[bytes],
    err: list[bytes],
    deadline: float | None,
    echo: Any,
    keep_output: bool,
) -> None:
    poller = select.poll()
    sinks: dict[int, tuple[list[bytes], Any]] = {}
    pending: dict[int, memoryview] = {}
    last = spawned.popens[-1]
    if last.stdout is not None:
        sinks[last.stdout.fileno()] = (out, echo and echo[0])
    err_fd = spawned.shared_err_fd
    if err_fd is None and last.stderr is not None:
        err_fd = last.stderr.fileno()
    if err_fd is not None:
        sinks[err_fd] = (err, echo and echo[1])
    for fd in sinks:
        poller.register(fd, _IN)
    data_for = dict(spawned.stdin_data)
    for index, popen in enumerate(spawned.popens):
        if popen.stdin is None:
            continue
        data = data_for.get(index, b"")
        if not data:
            popen.stdin.close()
            continue
        fd = popen.stdin.fileno()
        os.set_blocking(fd, False)
        pending[fd] = memoryview(data)
        poller.register(fd, _OUT)
    while sinks or pending:
        wait_ms = None
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired("", 0)
            wait_ms = left * 1000
        for fd, _ in poller.poll(wait_ms):
            if fd in pending:
                _write_some(fd, pending, poller, spawned)
                continue
            chunk = os.read(fd, _CHUNK)
            sink, copy_to = sinks[fd]
            if not chunk:
                poller.unregister(fd)
                del sinks[fd]
                continue
            if copy_to is not None:
                copy_to(chunk)
            if keep_output:
                sink.append(chunk)


def _write_some(fd: int, pending: dict[int, memoryview], poller: Any, spawned: Spawned) -> None:
    data = pending[fd]
    try:
        sent = os.write(fd, data[:_CHUNK])
    except BlockingIOError:
        return
    except (BrokenPipeError, ConnectionResetError):
        sent = len(data)  # the process stopped reading: its exit code tells the story
    if sent < len(data):
        pending[fd] = data[sent:]
        return
    poller.unregister(fd)
    del pending[fd]
    for popen in spawned.popens:
        if popen.stdin is not None and popen.stdin.fileno() == fd:
            popen.stdin.close()
