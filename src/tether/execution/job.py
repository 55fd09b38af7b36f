"""A running plan: one or more processes joined by pipes.

``Job`` is what ``popen()`` returns in the async API (the sync API wraps it in
:class:`tether.execution.popen.Popen`). It owns its processes: a timeout, a
cancelled await or ``kill()`` signals every stage's process group, so nothing
it started survives it.

Exit status follows ``pipefail``: the rightmost stage that failed decides the
job's return code. A stage other than the last one that died of SIGPIPE is
not a failure: the stage after it simply stopped reading (``yes | head -1``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from ..commands.plan import Plan, Stage
from ..exceptions import ProcessExecutionError, ProcessLineTimedOut, ProcessTimedOut
from ..transports.base import Process

#: each command run, with its exit code and duration, at DEBUG (never a password: argv carries none)
log = logging.getLogger("tether.machines")

BY_POSITION = "position"  # iter_lines yields (out, None) or (None, err)
BY_TYPE = "type"  # iter_lines yields (1, out) or (2, err)

_CHUNK = 1 << 16


def expected_codes(retcode: Any) -> tuple[int, ...] | None:
    if retcode is None:
        return None
    if isinstance(retcode, int):
        return (retcode,)
    return tuple(retcode)


def decode(data: bytes, encoding: str | None) -> Any:
    return data if encoding is None else data.decode(encoding, "surrogateescape")


class Job:
    """The processes of one plan, with the plan's first stdin and last stdout."""

    def __init__(
        self,
        plan: Plan,
        procs: list[Process],
        stderr: asyncio.StreamReader | None,
        host: str | None,
        helpers: Iterable[asyncio.Task] = (),
        remote_killers: Iterable[Any] = (),
    ) -> None:
        self.plan = plan
        self.procs = procs
        self.stdin = procs[0].stdin
        self.stdout = procs[-1].stdout
        self.stderr = stderr
        self.host = host
        self._helpers = list(helpers)  # stdin feeders: cancelled with the job
        self.started = time.monotonic()
        self._remote_killers = list(remote_killers)  # end remote stages' processes on kill

    # -- identity ----------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """The last stage's pid; for a stage run remotely, the remote pid."""
        last_remote = self._remote_killers[-1] if self._remote_killers else None
        if self.plan.stages[-1].host is not None and hasattr(last_remote, "pid"):
            return last_remote.pid()  # type: ignore[union-attr]
        return self.procs[-1].pid

    @property
    def client_pid(self) -> int | None:
        """The last stage's LOCAL process (for a remote stage: the ssh or plink client)."""
        return self.procs[-1].pid

    @property
    def argv(self) -> list[str]:
        return self.plan.argv_display

    @property
    def encoding(self) -> str | None:
        return self.plan.encoding

    @property
    def returncode(self) -> int | None:
        codes = [p.returncode for p in self.procs]
        if any(c is None for c in codes):
            return None
        return pipefail([c for c in codes if c is not None])

    # -- control -----------------------------------------------------------
    def send_signal(self, sig: int) -> None:
        if self._remote_killers and self.returncode is None:
            run_killers(self._remote_killers, sig)  # the remote side of ssh stages first
        for proc in self.procs:
            proc.send_signal(sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    async def wait(self) -> int:
        codes = [await p.wait() for p in self.procs]
        for task in self._helpers:
            task.cancel()
        return pipefail(codes)

    async def _reap(self) -> None:
        """Kill everything and wait for it (used on timeout and cancellation)."""
        if self._remote_killers and self.returncode is None:
            await asyncio.to_thread(run_killers, self._remote_killers)
        for proc in self.procs:
            proc.kill()
        for task in self._helpers:
            task.cancel()
        await asyncio.shield(asyncio.gather(*(p.wait() for p in self.procs), return_exceptions=True))

    # -- results -----------------------------------------------------------
    def check(self, retcode: Any, stdout: Any, stderr: Any) -> None:
        """Log the run; raise ProcessExecutionError naming the failing stage, pipefail order."""
        codes = [p.returncode for p in self.procs]
        log_finished(self.plan, codes, self.host, self.started)
        check_exit(self.plan, codes, retcode, stdout, stderr, self.host)

    async def communicate(
        self, input: bytes | None = None, timeout: float | None = None, tee: Any = None
    ) -> tuple[bytes, bytes]:
        """Feed ``input``, collect stdout and stderr concurrently, wait for exit."""
        out: list[bytes] = []
        err: list[bytes] = []
        try:
            await asyncio.wait_for(self._communicate(input, out, err, tee), timeout)
        except asyncio.TimeoutError:
            await self._reap()
            raise ProcessTimedOut(
                self.argv, timeout, decode(b"".join(out), self.encoding), decode(b"".join(err), self.encoding), self.host
            ) from None
        except BaseException:
            await self._reap()
            raise
        return b"".join(out), b"".join(err)

    async def _communicate(self, input: bytes | None, out: list, err: list, tee: Any) -> None:
        tasks = []
        if self.stdin is not None:
            tasks.append(_feed(self.stdin, input or b""))
        if self.stdout is not None:
            tasks.append(_drain(self.stdout, out, tee and tee[0]))
        if self.stderr is not None:
            tasks.append(_drain(self.stderr, err, tee and tee[1]))
        await asyncio.gather(*tasks)
        await self.wait()

    async def run(self, retcode: Any = 0, timeout: float | None = None, tee: Any = None) -> tuple:
        """Wait, check the exit code, and return ``(rc, stdout, stderr)`` decoded."""
        out, err = await self.communicate(None, timeout, tee)
        stdout, stderr = decode(out, self.encoding), decode(err, self.encoding)
        self.check(retcode, stdout, stderr)
        rc = self.returncode
        return rc, stdout, stderr

    async def iter_lines(
        self,
        retcode: Any = 0,
        timeout: float | None = None,
        line_timeout: float | None = None,
        mode: str = BY_POSITION,
    ) -> AsyncIterator[tuple]:
        """Yield stdout/stderr lines as they arrive; then check the exit code.

        ``line_timeout`` bounds the wait for each next line
        (ProcessLineTimedOut); ``timeout`` bounds the whole run.
        """
        if self.stdin is not None and not self._helpers:  # a feeder (cmd << data) closes it when done
            self.stdin.close()
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        readers = {1: self.stdout, 2: self.stderr}
        pending = {asyncio.ensure_future(r.readline()): fd for fd, r in readers.items() if r is not None}
        tails: dict[int, list] = {1: [], 2: []}
        try:
            while pending:
                wait = line_timeout
                if deadline is not None:
                    left = max(0.0, deadline - loop.time())
                    wait = left if wait is None else min(wait, left)
                done, _ = await asyncio.wait(pending, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    out = decode(b"".join(tails[1]), self.encoding)
                    err = decode(b"".join(tails[2]), self.encoding)
                    await self._reap()
                    if deadline is not None and loop.time() >= deadline:
                        raise ProcessTimedOut(self.argv, timeout, out, err, self.host)
                    raise ProcessLineTimedOut(self.argv, line_timeout, out, err, self.host)
                for task in sorted(done, key=lambda t: pending[t]):
                    fd = pending.pop(task)
                    line = task.result()
                    if not line:
                        continue
                    tails[fd] = (tails[fd] + [line])[-20:]
                    text = decode(line, self.encoding)
                    pending[asyncio.ensure_future(readers[fd].readline())] = fd  # type: ignore[union-attr]
                    if mode == BY_TYPE:
                        yield (fd, text)
                    else:
                        yield (text, None) if fd == 1 else (None, text)
            await self.wait()
        finally:
            for task in pending:
                task.cancel()
            if self.returncode is None:
                await self._reap()
        self.check(retcode, decode(b"".join(tails[1]), self.encoding), decode(b"".join(tails[2]), self.encoding))


def run_killers(killers: list[Callable[[int], None]], sig: int = signal.SIGKILL) -> None:
    """Signal the remote process groups of client stages (best effort)."""
    for signal_remote in killers:
        try:
            signal_remote(sig)
        except Exception:  # the connection may be gone too; keep cleaning up
            pass


def log_finished(plan: Plan, codes: list, host: str | None, started: float) -> None:
    """``[host] sh -c 'ls | grep b' -> exit 0 in 3.1 ms`` at DEBUG on ``tether.machines``."""
    if not log.isEnabledFor(logging.DEBUG):
        return  # the hot path pays one check
    from ..commands.quoting import quote

    hosts = {stage.host or host for stage in plan.stages}
    where = ",".join(sorted(h or "local" for h in hosts))
    line = " ".join(quote(arg) for arg in plan.argv_display)
    code = pipefail([c for c in codes if c is not None]) if None not in codes else "?"
    log.debug("[%s] %s -> exit %s in %.1f ms", where, line, code, (time.monotonic() - started) * 1000)


def check_exit(plan: Plan, codes: list, retcode: Any, stdout: Any, stderr: Any, host: str | None) -> None:
    """Raise ProcessExecutionError for the rightmost failing stage (pipefail).

    A stage before the last that died of SIGPIPE did not fail: its reader
    simply stopped reading (``yes | head -1``).
    """
    expected = expected_codes(retcode)
    if expected is None:
        return
    failed = None
    last = len(codes) - 1
    for index, rc in enumerate(codes):
        if index < last and rc == -signal.SIGPIPE:
            continue
        if rc not in expected:
            failed = index
    if failed is None:
        return
    stage: Stage = plan.stages[failed]
    where = None
    if last > 0:
        from ..commands.plan import plan_shell_line

        where = f"stage {failed + 1} of {last + 1} in pipeline: {plan_shell_line(plan)}"
    raise ProcessExecutionError(stage.shown_argv, codes[failed], stdout, stderr, stage.host or host, where)


def pipefail(codes: list[int]) -> int:
    last = len(codes) - 1
    for index in range(last, -1, -1):
        rc = codes[index]
        if rc and not (index < last and rc == -signal.SIGPIPE):
            return rc
    return 0


async def _feed(writer: asyncio.StreamWriter, data: bytes) -> None:
    try:
        if data:
            writer.write(data)
            await writer.drain()
        writer.close()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the process stopped reading: its exit code tells the story


async def _drain(reader: asyncio.StreamReader, sink: list, echo: Any) -> None:
    while True:
        chunk = await reader.read(_CHUNK)
        if not chunk:
            return
        if echo is not None:
            echo(chunk)
        if sink is not None:
            sink.append(chunk)
