"""The local machine: ``from tether import local``.

::

    from tether import local
    ls = local["ls"]
    ls("-a")                                    # stdout as str
    (local["head"]["-c", "1G", "/dev/zero"] | local["wc"]["-c"])()   # OS pipes, bounded memory
    with local.cwd("/tmp"), local.env(LANG="C"):
        local["pwd"]()                          # '/tmp\\n'
    local.session().run("ls | grep b")         # a persistent shell

Pipelines are chained with OS pipes between the processes: the data never
passes through Python. All stages of a pipeline share one stderr pipe, like
a shell's terminal, which tether reads concurrently with stdout.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from collections.abc import Callable
from typing import Any

from .._portal import blocking, portal
from ..commands.base import ERROUT, BaseCommand, as_arg
from ..commands.plan import DataSource, FileTarget, Plan
from ..exceptions import CommandNotFound, RedirectionError
from ..execution.job import Job, _feed
from ..execution.local_run import Spawned, run_spawned
from ..execution.processes import ProcInfo, parse_ps
from ..execution.session import AsyncShellSession, ShellSession
from ..transports.base import DEVNULL, PIPE, STDOUT
from ..transports.local import LocalProcess, LocalTransport, is_foreground, pipe_reader, spawn_popen
from .base import AsyncMachine, Machine, tee_writers
from .cwd import LocalWorkdir
from .env import Env


def _path(*parts: Any) -> Any:
    from ..paths.local import LocalPath

    return LocalPath(*parts)


def _login_name() -> str | None:
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a uid without a passwd entry (some containers)
        return None


class AsyncLocalMachine(AsyncMachine):
    """The async core of ``local`` (``tether.aio.local``)."""

    host = None

    def __init__(self) -> None:
        super().__init__()
        self.transport = LocalTransport()
        self.env = Env(dict(os.environ), make_path=_path, login_name=_login_name)
        self.cwd = LocalWorkdir()

    def __repr__(self) -> str:
        return "<LocalMachine>"

    async def close(self) -> None:
        """The local machine cannot be closed; this does nothing."""

    # -- lookup --------------------------------------------------------------
    def _resolve(self, name: Any) -> Any:
        name = as_arg(name)
        if "/" in name:
            path = _path(os.path.join(str(self.cwd), name))
            if not (path.is_file() and os.access(path, os.X_OK)):
                raise CommandNotFound(name, (), None)
            return path
        return self._which(name)

    def _which(self, progname: str) -> Any:
        dirs = [d for d in self.env.get("PATH", os.defpath).split(":") if d]
        names = [progname] + ([progname.replace("_", "-")] if "_" in progname else [])
        for name in names:
            for directory in dirs:
                full = os.path.join(directory, name)
                if os.path.isfile(full) and os.access(full, os.X_OK):
                    return _path(full)
        raise CommandNotFound(progname, dirs, None)

    async def which(self, progname: str) -> Any:
        """Full path of ``progname`` on PATH (``_`` also tried as ``-``), else CommandNotFound."""
        return self._which(progname)

    def path(self, *parts: Any) -> Any:
        """A LocalPath; relative parts are taken from the current working directory."""
        return _path(str(self.cwd), *parts)

    @property
    def python(self) -> Any:
        """The Python interpreter running tether, as a command."""
        return self[sys.executable]

    def tempdir(self) -> Any:
        """Context manager yielding a fresh temporary directory, removed afterwards."""
        from ..paths.local import tempdir

        return tempdir()

    @property
    def uname(self) -> str:
        return os.uname().sysname

    # -- processes ---------------------------------------------------------
    async def list_processes(self) -> list[ProcInfo]:
        """Every process on the machine (``ps``): pid, uid, stat, args."""
        _, out, _ = await self.run_command(self["ps"]["-e", "-ww", "-o", "pid=,uid=,stat=,args="])
        return parse_ps(out)

    async def pgrep(self, pattern: str) -> list[ProcInfo]:
        """Processes whose command line matches the regular expression ``pattern``."""
        import re

        regex = re.compile(pattern)
        return [p for p in await self.list_processes() if regex.search(p.args)]

    async def session(self, new_session: bool = False) -> AsyncShellSession:
        """A persistent shell: ``await s.run("cd /tmp && ls | grep b")`` -> (rc, out, err)."""
        job = await self._start(self["sh"].plan(), stdin=PIPE, stdout=PIPE, stderr=PIPE, detach=new_session)
        return AsyncShellSession(job)

    # -- execution ---------------------------------------------------------
    async def _start(
        self, plan: Plan, *, stdin: Any = PIPE, stdout: Any = PIPE, stderr: Any = PIPE, detach: bool = False
    ) -> Job:
        for machine in {stage.machine.aio for stage in plan.stages} - {self}:
            await machine.connect()  # tether.aio: a machine connects on its first command
        plan, killers = self._localize(plan)
        reserved = await _reserve_channels(plan)
        spawned = self._spawn(plan, killers, stdin=stdin, stdout=stdout, stderr=stderr, detach=detach, reserved=reserved)
        try:  # channels still opening (NativeSshMachine) are awaited, not waited for
            for handle in spawned.popens:
                opening = getattr(handle, "opening", None)
                if opening is not None:
                    await asyncio.wrap_future(opening)
        except BaseException:
            spawned.abandon()
            raise
        loop = asyncio.get_running_loop()
        procs = [LocalProcess(p, loop, spawned.own_group) for p in spawned.popens]
        stderr_reader = pipe_reader(spawned.shared_err_fd) if spawned.shared_err_fd is not None else procs[-1].stderr
        feeders = [asyncio.ensure_future(_feed(procs[i].stdin, data)) for i, data in spawned.stdin_data]  # type: ignore[arg-type]
        return Job(spawned.plan, procs, stderr_reader, None, feeders, spawned.remote_killers)  # type: ignore[arg-type]

    def _spawn(
        self, plan: Plan, killers: list[Callable[[int], None]], *, stdin: Any = PIPE, stdout: Any = PIPE,
        stderr: Any = PIPE, detach: bool = False, reserved: frozenset[int] = frozenset(),
    ) -> Spawned:
        """Start every stage of a localized plan, joined by OS pipes; no event loop needed (the sync path uses it too).

        ``reserved``: indexes of launched stages whose channel slot the caller
        already holds; a stage never launched gives its slot back.
        """
        env = self.env.getdict() if self.env.modified else None
        base_cwd = str(self.cwd)
        to_close: list[int] = []
        spawned = Spawned(plan, own_group=detach or not is_foreground(stdin, stdout), remote_killers=killers)
        last = len(plan.stages) - 1
        tried = -1  # the last stage we tried to start (a launch, failed or not, owns its slot)
        try:
            err_target = stderr
            if stderr == PIPE and last > 0:
                # one stderr pipe for every stage, read concurrently, like a terminal
                read_fd, write_fd = os.pipe()
                to_close.append(write_fd)
                spawned.shared_err_fd = read_fd
                err_target = write_fd
            upstream: int | Any = stdin
            for index, stage in enumerate(plan.stages):
                cwd = os.path.join(base_cwd, stage.cwd) if stage.cwd else base_cwd
                s_in, data = self._stdin_for(stage, upstream, cwd, to_close)
                if index < last:
                    read_fd, write_fd = os.pipe()
                    to_close += [read_fd, write_fd]
                    upstream = read_fd
                    s_out = write_fd
                else:
                    s_out = stdout
                if stage.stdout is not None:
                    s_out = _open(stage.stdout, cwd, to_close, write=True)
                s_err = err_target
                if stage.stderr is ERROUT:
                    s_err = STDOUT
                elif stage.stderr is not None:
                    s_err = _open(stage.stderr, cwd, to_close, write=True)
                tried = index
                try:
                    if stage.launcher is None:
                        popen = spawn_popen(
                            stage.argv, stdin=s_in, stdout=s_out, stderr=s_err, cwd=cwd,
                            env=_stage_env(env, stage.env), detach=detach,
                        )
                    else:
                        popen = stage.launcher(
                            stage.argv, stdin=s_in, stdout=s_out, stderr=s_err, cwd=cwd,
                            env=_stage_env(env, stage.env), detach=detach, reserved=index in reserved,
                        )
                except FileNotFoundError as exc:
                    if not os.path.isdir(cwd):
                        raise FileNotFoundError(f"working directory does not exist: {cwd}") from exc
                    raise CommandNotFound(stage.argv[0], (), None) from exc
                spawned.popens.append(popen)
                if data is not None:
                    spawned.stdin_data.append((index, data))
        except BaseException:
            spawned.abandon()
            for index in reserved:  # slots of stages never tried (a launch frees its own)
                if index > tried:
                    plan.stages[index].slots.release()
            raise
        finally:
            for fd in to_close:
                os.close(fd)
        return spawned

    def _localize(self, plan: Plan) -> tuple[Plan, list[Callable[[int], None]]]:
        """Replace each run of stages on a remote machine by the local client process running them.

        ``(rem["ls"] | rem["grep"]["b"] | local["wc"])`` becomes
        ``ssh rem 'ls | grep b' | wc``: remote stages stay together remotely,
        and the pipes between the client and local stages are OS pipes.
        """
        if all(stage.machine.aio is self for stage in plan.stages):
            return plan, []
        stages: list[Any] = []
        killers = []
        for machine, group in itertools.groupby(plan.stages, key=lambda s: s.machine.aio):
            if machine is self:
                stages.extend(group)
                continue
            to_local = getattr(machine, "_local_stage", None)
            if to_local is None:
                raise RedirectionError(f"cannot run a pipeline stage on {machine!r} from here")
            stage, killer = to_local(list(group))
            stages.append(stage)
            killers.append(killer)
        return Plan(stages), killers

    @staticmethod
    def _stdin_for(stage: Any, upstream: Any, cwd: str, to_close: list[int]) -> tuple[Any, bytes | None]:
        if isinstance(stage.stdin, DataSource):
            return PIPE, stage.stdin.data
        if isinstance(stage.stdin, FileTarget):
            return _open(stage.stdin, cwd, to_close, write=False), None
        return upstream, None


async def _reserve_channels(plan: Plan) -> frozenset[int]:
    """Await a channel slot for each stage that needs one; on cancellation hold none."""
    held: list[int] = []
    try:
        for index, stage in enumerate(plan.stages):
            if stage.slots is not None:
                await stage.slots.acquire_async()
                held.append(index)
    except BaseException:
        for index in held:
            plan.stages[index].slots.release()
        raise
    return frozenset(held)


def _stage_env(machine_env: dict | None, overrides: dict) -> dict | None:
    if not overrides:
        return machine_env  # None: inherit os.environ unchanged (no re-encoding)
    return {**(os.environ if machine_env is None else machine_env), **overrides}


def _open(target: FileTarget, cwd: str, to_close: list[int], write: bool) -> int:
    path = target.path
    machine = getattr(path, "machine", None)
    if machine is not None and getattr(machine, "host", None) is not None:
        raise RedirectionError(f"cannot redirect a local command to a remote path: {path}")
    full = os.path.join(cwd, as_arg(path))
    if write:
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if target.append else os.O_TRUNC)
    else:
        flags = os.O_RDONLY
    fd = os.open(full, flags | os.O_CLOEXEC, 0o666)
    to_close.append(fd)
    return fd


class LocalMachine(Machine):
    """The machine this program runs on. Use the ``local`` instance."""

    aio: AsyncLocalMachine

    def __repr__(self) -> str:
        return "<LocalMachine>"

    @property
    def cwd(self) -> LocalWorkdir:
        return self.aio.cwd

    def which(self, progname: str) -> Any:
        return self.aio._which(progname)

    def path(self, *parts: Any) -> Any:
        return self.aio.path(*parts)

    @property
    def python(self) -> Any:
        return Machine.__getitem__(self, sys.executable)

    def tempdir(self) -> Any:
        return self.aio.tempdir()

    @property
    def uname(self) -> str:
        return self.aio.uname

    list_processes = blocking(AsyncLocalMachine.list_processes)
    pgrep = blocking(AsyncLocalMachine.pgrep)

    def session(self, new_session: bool = False) -> ShellSession:
        """A persistent shell: ``s.run("cd /tmp && ls | grep b")`` -> (rc, out, err)."""
        shell = str(self.aio._which("sh"))
        return ShellSession(spawn_popen([shell], detach=new_session))

    def close(self) -> None:
        """The local machine cannot be closed; this does nothing."""

    def run_command(
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
        # A local command run to completion owns nothing that outlives the
        # call, so it runs right here on the caller's thread (see local_run).
        portal.refuse_in_loop_thread()
        plan = cmd.plan()
        spawned = self.aio._spawn(*self.aio._localize(plan), stdin=stdin, stdout=stdout, stderr=stderr)
        echo = tee_writers() if tee else None
        rc, out, err = run_spawned(
            spawned, retcode=retcode, timeout=timeout, echo=echo, keep_output=not tee or tee_buffered
        )
        return rc if result == "retcode" else (rc, out, err)


local = LocalMachine(AsyncLocalMachine())
"""The local machine (sync API). Its async twin is ``tether.aio.local``."""
