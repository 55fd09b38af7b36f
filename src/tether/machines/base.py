"""What every machine shares, in two flavours: async core and sync facade.

``AsyncMachine`` holds a transport, an environment and a working directory,
and executes command plans (see :mod:`tether.commands.plan`). ``Machine`` is
the blocking facade users hold: each of its methods hands the call to the
async twin on tether's background loop (:mod:`tether._portal`). Command
objects built from a sync machine run synchronously; built from a
``tether.aio`` machine, the same calls return coroutines.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

from .._portal import blocking, portal
from ..commands.base import ERROUT, BaseCommand, Command
from ..commands.plan import FileTarget, Plan
from ..exceptions import ClosedError, CommandNotFound, TetherError
from ..execution.job import BY_POSITION, Job, expected_codes
from ..transports.base import DEVNULL, PIPE, Transport


class CommandNamespace:
    """``machine.cmd.ls`` is ``machine["ls"]``; ``cmd.apt_get`` also finds ``apt-get``."""

    def __init__(self, machine: Any) -> None:
        self._machine = machine

    def __getattr__(self, name: str) -> Command:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._machine[name]
        except CommandNotFound:
            raise AttributeError(f"no command {name!r} on {self._machine!r}") from None


class _Lookup:
    """Command lookup shared by both flavours: ``m["ls"]``, ``m.get(...)``, ``"ls" in m``."""

    host: str | None = None
    encoding: str | None = "utf-8"

    def _resolve(self, name: str) -> Any:
        raise NotImplementedError

    def __getitem__(self, name: Any) -> Command:
        return Command(self, self._resolve(name), self.encoding)

    def _resolve_checked(self, name: Any) -> Any:
        """Like ``_resolve`` but sure the program exists (a remote core's ``_resolve`` does no I/O)."""
        return self._resolve(name)

    def _checked_command(self, name: Any) -> Command:
        """``machine[name]``, CommandNotFound now if it does not exist; may block (a remote round trip)."""
        return Command(self, self._resolve_checked(name), self.encoding)

    def get(self, *names: str) -> Command:
        """The first of ``names`` that exists: ``local.get("python3", "python")``."""
        for name in names:
            try:
                return self[name]
            except CommandNotFound:
                continue
        raise CommandNotFound(" | ".join(names), (), self.host)

    def __contains__(self, name: str) -> bool:
        try:
            self._resolve(name)
        except CommandNotFound:
            return False
        return True

    @property
    def cmd(self) -> CommandNamespace:
        return CommandNamespace(self)


class AsyncMachine(_Lookup):
    """Async core of a machine. Subclasses provide the transport and lookups."""

    transport: Transport
    _agent: Any = None  # the machine's tether.agent AsyncAgent, started on first use

    def __init__(self) -> None:
        self._closed = False

    @property
    def aio(self) -> AsyncMachine:
        return self

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(f"{self!r} is closed")

    async def close(self) -> None:
        await self._close_agent()
        self._closed = True
        await self.transport.close()

    # -- remote Python (tether.agent sits above machines: imported on first use) --
    async def agent(self, python: str | None = None) -> Any:
        """This machine's Python agent (AsyncAgent), started if needed: ``python`` picks the interpreter."""
        from ..agent.api import machine_agent

        return await machine_agent(self, python)

    async def import_module(self, module: Any, *, model: str = "agent", python: str | None = None) -> Any:
        """Ship ``module`` to this machine; its functions run there: ``await foo.listdir(".")``."""
        from ..agent.api import import_module_async

        return await import_module_async(self, module, model, python)

    async def remote_exec(self, module: Any) -> Any:
        """Run ``module`` (or source) on the agent with a ``channel``; returns the local end."""
        return await (await self.agent()).remote_exec(module)

    async def _close_agent(self) -> None:
        if self._agent is not None:
            from ..agent.api import close_machine_agent

            await close_machine_agent(self)

    def _close_agent_blocking(self) -> None:
        if self._agent is not None:
            from ..agent.api import close_machine_agent_blocking

            close_machine_agent_blocking(self)

    async def __aenter__(self) -> AsyncMachine:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # -- execution ---------------------------------------------------------
    async def _start(
        self, plan: Plan, *, stdin: Any = PIPE, stdout: Any = PIPE, stderr: Any = PIPE, detach: bool = False
    ) -> Job:
        """Start every stage of ``plan``; subclasses implement the wiring."""
        raise NotImplementedError

    async def popen_command(
        self, cmd: BaseCommand, *, stdin: Any = PIPE, stdout: Any = PIPE, stderr: Any = PIPE
    ) -> Job:
        """Start ``cmd`` and return its running Job (streams, pid, wait, kill)."""
        self._check_open()
        return await self._start(cmd.plan(), stdin=stdin, stdout=stdout, stderr=stderr)

    async def run_command(
        self,
        cmd: BaseCommand,
        *,
        retcode: Any = 0,
        timeout: float | None = None,
        stdin: Any = DEVNULL,
        stdout: Any = PIPE,
        stderr: Any = PIPE,
        tee: bool = False,
        tee_buffered: bool = True,
        result: str = "tuple",
    ) -> Any:
        """Run to completion; return ``(rc, stdout, stderr)`` (``result="retcode"``: rc only).

        stdout and stderr are read concurrently, so neither pipe can fill up
        and stall the process; on ``timeout`` the process group is killed and
        ProcessTimedOut raised; if this call is cancelled the process is killed.
        """
        self._check_open()
        job = await self._start(cmd.plan(), stdin=stdin, stdout=stdout, stderr=stderr)
        echo = tee_writers() if tee else None
        if tee and not tee_buffered:
            out, err = await job.communicate(None, timeout, echo)
            job.check(retcode, "", "")
            return job.returncode, "", ""
        rc, out, err = await job.run(retcode, timeout, echo)
        return rc if result == "retcode" else (rc, out, err)

    async def call_command(self, cmd: BaseCommand, **kwargs: Any) -> Any:
        """Run and return stdout only."""
        return (await self.run_command(cmd, **kwargs))[1]

    def bg_command(self, cmd: BaseCommand, *, retcode: Any = 0, timeout: float | None = None) -> asyncio.Task:
        """``cmd & BG`` in async code: a Task resolving to ``(rc, out, err)``."""
        return asyncio.ensure_future(self.run_command(cmd, retcode=retcode, timeout=timeout))

    async def nohup_command(
        self, cmd: BaseCommand, *, cwd: str = ".", stdout: str = "nohup.out", stderr: str | None = None, append: bool = True
    ) -> Job:
        """Start detached (new session, stdin from /dev/null), output to files."""
        self._check_open()
        plan = cmd.with_cwd(cwd).plan()
        err: Any = ERROUT if stderr is None else FileTarget(stderr, append)
        last = replace(plan.stages[-1], stdout=FileTarget(stdout, append), stderr=err)
        return await self._start(
            Plan([*plan.stages[:-1], last]), stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL, detach=True
        )

    async def iter_command_lines(
        self,
        cmd: BaseCommand,
        *,
        retcode: Any = 0,
        timeout: float | None = None,
        line_timeout: float | None = None,
        mode: str = BY_POSITION,
    ) -> AsyncIterator[tuple]:
        job = await self.popen_command(cmd, stdin=DEVNULL)
        async for item in job.iter_lines(retcode, timeout, line_timeout, mode):
            yield item


def tee_writers() -> tuple:
    def writer(stream: Any) -> Any:
        def write(chunk: bytes) -> None:
            buffer = getattr(stream, "buffer", None)
            if buffer is not None:
                buffer.write(chunk)
            else:
                stream.write(chunk.decode("utf-8", "replace"))
            stream.flush()

        return write

    return writer(sys.stdout), writer(sys.stderr)


class Machine(_Lookup):
    """Sync facade over an AsyncMachine: every call runs on tether's loop thread."""

    def __init__(self, aio: AsyncMachine) -> None:
        self.aio = aio

    @property
    def host(self) -> str | None:  # type: ignore[override]
        return self.aio.host

    @property
    def encoding(self) -> str | None:  # type: ignore[override]
        return self.aio.encoding

    @property
    def env(self) -> Any:
        return self.aio.env  # type: ignore[attr-defined]

    def _resolve(self, name: str) -> Any:
        return self.aio._resolve(name)

    close = blocking(AsyncMachine.close)

    # -- remote Python (see tether.agent) ------------------------------------
    def agent(self, python: str | None = None) -> Any:
        """This machine's Python agent (:class:`tether.agent.Agent`), started if needed."""
        from ..agent.api import Agent, machine_agent

        return Agent(portal.call(machine_agent, self.aio, python))

    def import_module(self, module: Any, *, model: str = "agent", python: str | None = None) -> Any:
        """Ship ``module`` to this machine: ``rem.import_module(foo).listdir(".")`` runs there.

        ``model``: "agent" (the default: one interpreter serves every call),
        "legacy" (remoto's channel calls; the module ends in the
        ``__channelexec__`` footer) or "json" (a fresh ``python -c`` per call).
        ``python`` names the interpreter (default: this one locally, ``python3`` elsewhere).
        """
        from ..agent.api import import_module_sync

        return import_module_sync(self, module, model, python)

    def remote_exec(self, module: Any) -> Any:
        """Run ``module`` (or source) on the agent with a ``channel``: send/receive/iterate/close."""
        return self.agent().remote_exec(module)

    def __enter__(self) -> Machine:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- execution facades -------------------------------------------------
    def popen_command(self, cmd: BaseCommand, *, stdin: Any = PIPE, stdout: Any = PIPE, stderr: Any = PIPE) -> Any:
        from ..execution.popen import Popen

        return Popen(portal.call(self.aio.popen_command, cmd, stdin=stdin, stdout=stdout, stderr=stderr))

    run_command = blocking(AsyncMachine.run_command)

    def call_command(self, cmd: BaseCommand, **kwargs: Any) -> Any:
        return self.run_command(cmd, **kwargs)[1]

    def bg_command(self, cmd: BaseCommand, *, retcode: Any = 0, timeout: float | None = None) -> Any:
        from ..execution.popen import Future

        job = portal.call(self.aio._start, cmd.plan(), stdin=DEVNULL)  # spawned before we return
        return Future(job, portal.submit(job.run, retcode, timeout), expected_codes(retcode))

    def nohup_command(
        self, cmd: BaseCommand, *, cwd: str = ".", stdout: str = "nohup.out", stderr: str | None = None, append: bool = True
    ) -> Any:
        from ..execution.popen import Popen

        return Popen(portal.call(self.aio.nohup_command, cmd, cwd=cwd, stdout=stdout, stderr=stderr, append=append))

    def iter_command_lines(
        self,
        cmd: BaseCommand,
        *,
        retcode: Any = 0,
        timeout: float | None = None,
        line_timeout: float | None = None,
        mode: str = BY_POSITION,
    ) -> Iterator[tuple]:
        return self.popen_command(cmd, stdin=DEVNULL).iter_lines(
            retcode=retcode, timeout=timeout, line_timeout=line_timeout, mode=mode
        )


__all__ = ["AsyncMachine", "CommandNamespace", "Machine", "TetherError"]
