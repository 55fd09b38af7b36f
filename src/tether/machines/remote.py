"""What every machine reached through a remote POSIX shell shares.

A remote machine turns the stages of a pipeline that run on it into ONE
shell line (:mod:`tether.commands.remote_line`) and runs that line through
a local client process (``ssh`` on the ControlMaster, ``plink``). The local
machine then treats that client like any other process, so remote, local
and mixed pipelines stream through OS pipes with the same timeouts, exit
codes and cleanup::

    (rem["ls"] | rem["grep"]["b"])()        # one pipeline, run remotely
    (rem["cat"]["/var/log/syslog"] | local["grep"]["err"])()   # streams across

Small questions (``which``, ``cwd``, path tests) go to a *control shell*:
one persistent ``sh`` on the remote, framed like ``session()``, so they cost
a round trip, not a process. Every command's remote shell records its pid,
so a timeout or a kill ends the remote process group too, not just the
local client.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import itertools
import logging
import posixpath
import re
import signal
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .._portal import before_stop_at_exit, ssh_portal
from ..commands.base import BaseCommand, Command, as_arg
from ..commands.plan import DataSource, FileTarget, Plan, Stage, plan_shell_line
from ..commands.quoting import quote
from ..commands.remote_line import remote_line
from ..exceptions import ClosedError, CommandNotFound, ConnectError, ShellSessionError
from ..execution.job import Job
from ..execution.processes import PS_SCRIPT, ProcInfo, parse_ps
from ..execution.remote_jobs import SWEEP_EVERY, RemoteJobs
from ..execution.session import ShellSession
from ..transports.base import DEVNULL, PIPE
from ..transports.slots import ChannelSlots
from .base import AsyncMachine, Machine
from .env import Env
from .names import check_name
from .remote_cwd import RemoteWorkdir

if TYPE_CHECKING:
    from .tunnel import Tunnel, TunnelSocket

_PS = PS_SCRIPT
log = logging.getLogger("tether.machines")  # per host: connect, close (commands: execution/job.py)
DEFAULT_MAX_SESSIONS = 10  # OpenSSH sshd's MaxSessions default




@dataclass
class RemoteJob:
    """Stages made ready to run remotely (see ``AsyncRemoteMachine._prepare``).

    Calling it with a signal number signals the remote process group; the
    local runners hold it as one of a job's "remote killers".
    """

    machine: AsyncRemoteMachine
    number: int  # which job file records it
    line: str  # the wrapped shell line
    display: list[str]  # what errors show as the command line
    encoding: str | None
    redirects: dict[str, Any]  # stdin/stdout/stderr kept local: for the client stage

    def __call__(self, sig: int) -> None:
        machine = self.machine
        if not machine._closed:
            machine._control(machine._jobs.signal_script(self.number, signal.Signals(sig).name[3:]), retcode=None)

    def pid(self, timeout: float = 5.0) -> int | None:
        """The remote process's pid (it leads the remote process group); None if it never started."""
        machine = self.machine
        job = quote(machine._jobs.job_file(self.number))
        deadline = time.monotonic() + timeout
        while not machine._closed:
            _, out, _ = machine._control(f"cat {job} 2>/dev/null", retcode=None)
            recorded = out.split()  # "PID" or "PID STARTTIME"
            if recorded and recorded[0].isdigit():
                return int(recorded[0])
            if time.monotonic() > deadline:
                return None
            time.sleep(0.005)
        return None


class _RemoteState:
    """What we learned from the remote on first contact."""

    def __init__(self, cwd: str, env: dict[str, str], uname: str, run_dir: str) -> None:
        self.home = cwd
        self.cwd = cwd
        self.baseline_env = env
        self.uname = uname
        self.run_dir = run_dir  # private temp dir for per-command pid files


class AsyncRemoteMachine(AsyncMachine):
    """The async core shared by SshMachine and PuttyMachine.

    Subclasses provide :meth:`_client_argv` (a local argv that runs a shell
    line remotely) and :meth:`_connect_blocking` / :meth:`_disconnect`.
    """

    host: str  # always set, unlike local's None

    def __init__(self, host: str, max_sessions: int = DEFAULT_MAX_SESSIONS) -> None:
        super().__init__()
        self.host = check_name(host, "host name")
        if max_sessions < 3:
            raise ValueError(f"max_sessions must be at least 3 (the control shell's, one spare, one); got {max_sessions}")
        # sshd refuses channels past its MaxSessions (10 by default): commands
        # beyond that wait for a free one instead of failing. One channel is the
        # control shell's; one more is kept spare because sshd frees a session
        # a moment after the client has seen it close.
        self._channels = ChannelSlots(max_sessions - 2)
        self.facade: Any = None  # the sync Machine users hold (commands point at it)
        self._control_session: ShellSession | None = None
        self._control_lock = threading.Lock()
        self._remote: _RemoteState | None = None
        self._env: Env | None = None
        self.cwd = RemoteWorkdir(self)
        self._which_cache: dict[tuple[str, str], Any] = {}
        self._pidfiles = itertools.count()
        self._jobs: RemoteJobs  # set with the remote state
        self._forwards: Any = None  # tunnels and forwarded sockets (machines/tunnel.py), made on first use
        self._connecting: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.host}>"

    # -- transport hooks ---------------------------------------------------------
    def _client_argv(self, line: str) -> list[str]:
        """argv of a local client process (ssh, plink) that runs ``line`` remotely."""
        raise NotImplementedError

    def _open_client(
        self, line: str, stdin: Any = PIPE, stdout: Any = PIPE, stderr: Any = PIPE, wait: bool = True
    ) -> Any:
        """Start ``line`` remotely; a Popen-like handle (machines without a client process override).

        A client process is running when this returns, so ``wait`` changes nothing here.
        """
        import os

        from ..transports.local import spawn_popen

        env = {**os.environ, **self._client_env()} if self._client_env() else None
        return spawn_popen(self._client_argv(line), stdin=stdin, stdout=stdout, stderr=stderr, env=env)

    def _client_env(self) -> dict[str, str]:
        """Environment additions for the local client processes."""
        return {}

    #: False for machines that run commands without a local client process
    #: (NativeSshMachine): their stages get a launcher instead of an argv
    _client_is_process = True

    def _client_stage(self, line: str, *, display: list[str], encoding: str | None = "utf-8", **redirects: Any) -> Stage:
        """The local pipeline stage that runs shell ``line`` on this machine."""
        # the argv is what a plan shows; the launcher starts it within the channel limit
        argv = self._client_argv(line) if self._client_is_process else ["ssh", str(self.host), line]
        launcher = functools.partial(self._launch_stage, line)
        client = Command(_local_facade(), argv[0], encoding)
        env = self._client_env()
        return Stage(
            client, argv, env=env, display=display, host=self.host, launcher=launcher, slots=self._channels,
            **redirects,
        )

    def _launch_stage(
        self, line: str, argv: Any, *, stdin: Any, stdout: Any, stderr: Any, reserved: bool = False, **_: Any
    ) -> Any:
        return self._open_channel(line, stdin=stdin, stdout=stdout, stderr=stderr, reserved=reserved)

    def _open_channel(
        self, line: str, stdin: Any = PIPE, stdout: Any = PIPE, stderr: Any = PIPE, reserved: bool = False
    ) -> Any:
        """``_open_client`` within the channel limit, freeing the slot at exit.

        A blocking caller waits here for a free channel and for the channel to
        open. Async callers (``reserved``) have awaited a slot already and await
        the handle's ``opening`` themselves, so their event loop never waits here.
        """
        if not reserved:
            self._channels.acquire()
        try:
            handle = self._open_client(line, stdin=stdin, stdout=stdout, stderr=stderr, wait=not reserved)
        except BaseException:
            self._channels.release()
            raise
        release_when_done(handle, self._channels.release)
        return handle

    def _connect_blocking(self) -> None:
        """Start the control shell (for ssh/plink/exec it is the connection); on any failure close everything.

        A control shell that dies at once becomes the machine's own connect error (:meth:`_connect_error`).
        """
        try:
            self._start_control()
            self._control_started()
        except ShellSessionError as exc:
            self._close_blocking()
            raise self._connect_error(str(exc)) from None
        except BaseException:
            self._close_blocking()
            raise

    def _connect_logged(self) -> None:
        """:meth:`_connect_blocking`, reported on ``tether.machines`` (DEBUG; failures too)."""
        started = time.monotonic()
        log.debug("[%s] connecting (%s)", self.host, type(self).__name__)
        try:
            self._connect_blocking()
        except BaseException as exc:
            log.debug("[%s] connect failed after %.1f ms: %s", self.host, (time.monotonic() - started) * 1000, exc)
            raise
        log.debug("[%s] connected in %.1f ms", self.host, (time.monotonic() - started) * 1000)

    def _control_started(self) -> None:
        """A hook: more to check once the control shell answers (SshMachine: its master is up)."""

    def _connect_error(self, stderr: str) -> Exception:
        raise NotImplementedError

    def _disconnect(self) -> None:
        raise NotImplementedError

    async def connect(self) -> None:
        """Open the connection; does nothing when it is open (the sync machines connect on construction).

        In ``tether.aio`` a command run on a machine not yet connected connects it first.
        """
        self._check_open()
        if self._control_session is not None:
            return
        if self._connecting is None:  # many commands may ask at once: one connect
            self._connecting = asyncio.Lock()
        async with self._connecting:
            await asyncio.to_thread(self._ensure_connected)

    def _ensure_connected(self) -> None:
        self._check_open()
        if self._control_session is None:
            self._connect_logged()

    async def __aenter__(self) -> AsyncRemoteMachine:
        await self.connect()
        return self

    # -- the control shell ---------------------------------------------------------
    def _open_control(self) -> Any:
        """The control shell's process (SshMachine's is its ControlMaster)."""
        return self._open_client("sh")

    def _start_control(self) -> None:
        """Open the control shell and learn the remote's state: the connect step every machine shares."""
        with self._control_lock:
            self._control_session = ShellSession(self._open_control(), host=self.host)
        self._state()

    def _control(self, text: str, retcode: Any = 0) -> tuple:
        """Run shell text in the control shell: ``(rc, out, err)``."""
        self._check_open()
        session = self._control_session
        if session is None or not session.alive:
            raise ConnectError(f"the connection to {self.host} was lost", self.host)
        return session.run(text, retcode=retcode)

    def _state(self) -> _RemoteState:
        if self._remote is None:
            # One round trip: home, OS name, the job bookkeeping (remote_jobs), the environment
            _, out, _ = self._control(f"pwd; uname -s; {RemoteJobs.setup_script()}; env -0 2>/dev/null")
            cwd, uname, run_dir, proc, env_blob = [*out.split("\n", 4), "", "", "", "", ""][:5]
            env = dict(item.split("=", 1) for item in env_blob.split("\0") if "=" in item)
            self._jobs = RemoteJobs(run_dir, has_proc=proc == "proc")
            self._remote = _RemoteState(cwd, env, uname, run_dir)
        return self._remote

    @property
    def env(self) -> Env:
        """The remote environment; changes apply to every command run afterwards."""
        if self._env is None:
            self._env = Env(dict(self._state().baseline_env), make_path=self._make_path)
        return self._env

    def _env_delta(self) -> tuple[dict[str, str], list[str]]:
        env = self._env
        if env is None or not env.modified:
            return {}, []
        baseline = self._state().baseline_env
        changed = {k: v for k, v in env.items() if baseline.get(k) != v}
        unset = [k for k in baseline if k not in env]
        return changed, unset

    # -- lookups -------------------------------------------------------------------
    def _make_path(self, *parts: Any) -> Any:
        from ..paths.remote import RemotePath

        return RemotePath(self._facade(), *parts)

    def _facade(self) -> Any:
        """The sync machine over this core; made on demand for a core used through ``tether.aio``."""
        if self.facade is None:
            self.facade = RemoteMachine._over(self)
        return self.facade

    def path(self, *parts: Any) -> Any:
        """A RemotePath; relative parts are taken from the remote working directory.

        A path starting with ``~`` is kept as it is, for ``expanduser()``.
        """
        if parts and isinstance(parts[0], str) and parts[0].startswith("~"):
            return self._make_path(*parts)
        return self._make_path(str(self.cwd), *parts)

    def _resolve(self, name: Any) -> Any:
        """``rem["ls"]`` in ``tether.aio``: no I/O, so building a command never blocks the loop.

        The remote shell finds the program on its PATH when the command runs
        (exit 127 when it cannot); ``await rem.which(name)`` asks beforehand.
        The blocking API checks at once (:meth:`_resolve_checked`), as plumbum does.
        """
        return as_arg(name)

    def __contains__(self, name: str) -> bool:
        raise TypeError(
            f"`{name!r} in machine` would block the event loop on {self.host}; "
            "use `await machine.which(name)` (CommandNotFound when missing)"
        )

    def _resolve_checked(self, name: Any) -> Any:
        """The program's full path on the remote, else CommandNotFound: one control-shell round trip."""
        name = as_arg(name)
        if "/" in name:
            full = posixpath.join(str(self.cwd), name)
            rc, _, _ = self._control(f"test -f {quote(full)} && test -x {quote(full)}", retcode=None)
            if rc != 0:
                raise CommandNotFound(name, (), self.host)
            return self._make_path(full)
        return self._which(name)

    def _which(self, progname: str) -> Any:
        path_var = self.env.get("PATH", "")
        key = (progname, path_var)
        found = self._which_cache.get(key)
        if found is None:
            names = [progname] + ([progname.replace("_", "-")] if "_" in progname else [])
            # a file search, as which(1) does: `command -v` would also report builtins
            probe = (
                f"( IFS=:; for n in {' '.join(quote(n) for n in names)}; do for d in $_tether_path; do "
                '[ -f "$d/$n" ] && [ -x "$d/$n" ] && { printf \'%s\\n\' "$d/$n"; exit 0; }; done; done; exit 1 )'
            )
            rc, out, _ = self._control(f"_tether_path={quote(path_var)}; {probe}", retcode=None)
            if rc != 0:
                raise CommandNotFound(progname, path_var.split(":"), self.host)
            found = self._which_cache[key] = self._make_path(out.strip("\n"))
        return found

    async def which(self, progname: str) -> Any:
        """Full remote path of ``progname`` on the remote PATH, else CommandNotFound."""
        return await asyncio.to_thread(self._which, progname)

    @property
    def python(self) -> Any:
        """The remote's Python 3 interpreter, as a command."""
        return self.facade.get("python3", "python")

    @property
    def uname(self) -> str:
        return self._state().uname

    def tempdir(self) -> Any:
        """Context manager: a fresh remote temporary directory, removed afterwards."""

        @contextmanager
        def manage() -> Iterator[Any]:
            _, out, _ = self._control('mktemp -d "${TMPDIR:-/tmp}/tether.XXXXXX"')
            path = self._make_path(out.strip("\n"))
            try:
                yield path
            finally:
                if not self._closed:
                    self._control(f"rm -rf -- {quote(str(path))}", retcode=None)

        return manage()

    # -- transfers ---------------------------------------------------------------------
    async def upload(self, src: Any, dst: Any, progress: Any = None) -> Any:
        """Copy a local file or directory to ``dst`` here, atomically (see the sync ``upload``)."""
        from .transfer import upload

        return await asyncio.to_thread(upload, self._facade(), src, dst, progress)

    async def download(self, src: Any, dst: Any, progress: Any = None) -> Any:
        """Copy a file or directory from here to local ``dst``, atomically (see the sync ``download``)."""
        from .transfer import download

        return await asyncio.to_thread(download, self._facade(), src, dst, progress)

    # -- processes -------------------------------------------------------------------
    async def list_processes(self) -> list[ProcInfo]:
        """Every process on the remote machine (``ps``)."""
        _, out, _ = await asyncio.to_thread(self._control, _PS)
        return parse_ps(out)

    async def pgrep(self, pattern: str) -> list[ProcInfo]:
        """Remote processes whose command line matches the regular expression ``pattern``."""

        regex = re.compile(pattern)
        return [p for p in await self.list_processes() if regex.search(p.args)]

    def _blocking_session(self) -> Any:
        """The sync API's session: a shell in a client process, driven on the caller's thread."""
        self._check_open()
        return ShellSession(self._open_channel("sh"), host=self.host)

    async def session(self, new_session: bool = False) -> Any:
        """A persistent remote shell; see :class:`tether.execution.session.AsyncShellSession`."""
        from ..execution.session import AsyncShellSession

        job = await self._local()._start(self._shell_plan(), stdin=PIPE, stdout=PIPE, stderr=PIPE)
        return AsyncShellSession(job)

    def _shell_plan(self) -> Any:
        return Plan([self._client_stage("sh", display=["sh"])])

    # -- execution ---------------------------------------------------------------------
    @staticmethod
    def _local() -> Any:
        from .local import local

        return local.aio

    async def _start(
        self, plan: Any, *, stdin: Any = PIPE, stdout: Any = PIPE, stderr: Any = PIPE, detach: bool = False
    ) -> Job:
        self._check_open()
        return await self._local()._start(plan, stdin=stdin, stdout=stdout, stderr=stderr, detach=detach)

    def _run_collected(self, cmd: BaseCommand, options: dict) -> Any:
        """A machine that can run a whole command and collect its output in one call does it here.

        Returns None when it cannot (the general path then runs the command
        as a pipeline stage).
        """
        return None

    def _prepare(self, stages: list[Stage]) -> RemoteJob:
        """``stages`` as one remote job: its shell line, how to show and to signal it, local redirections.

        Redirections from or to LOCAL paths, and ``<<`` data, stay with the
        local side; everything else becomes part of the remote line.
        """
        self._check_open()
        stages = list(stages)
        first, last = stages[0], stages[-1]
        stdin = first.stdin if isinstance(first.stdin, DataSource) or _is_local_file(first.stdin) else None
        stdout = last.stdout if _is_local_file(last.stdout) else None
        stderr = last.stderr if _is_local_file(last.stderr) else None
        if stdin is not None:
            stages[0] = replace(stages[0], stdin=None)
        if stdout is not None or stderr is not None:
            stages[-1] = replace(
                stages[-1],
                stdout=None if stdout is not None else stages[-1].stdout,
                stderr=None if stderr is not None else stages[-1].stderr,
            )
        state = self._state()
        changed, unset = self._env_delta()
        line = remote_line(stages, cwd=state.cwd if state.cwd != state.home else None, env=changed, unset=unset)
        number = next(self._pidfiles)
        if number and number % SWEEP_EVERY == 0:  # on a thread: this may run on an event loop
            threading.Thread(target=self._sweep, name="tether-sweep", daemon=True).start()

        display = stages[0].shown_argv if len(stages) == 1 else ["sh", "-c", plan_shell_line(Plan(stages))]
        return RemoteJob(
            self, number, self._jobs.wrap(line, number), display, last.command.encoding,
            {"stdin": stdin, "stdout": stdout, "stderr": stderr},
        )

    def _sweep(self) -> None:
        """Remove finished jobs' files on the remote (best effort: the control shell may be closing)."""
        with contextlib.suppress(Exception):
            self._control(self._jobs.sweep_script(), retcode=None)

    def _local_stage(self, stages: list[Stage]) -> tuple[Stage, Callable[[int], None]]:
        """One local stage (the client process, or a channel) that runs ``stages`` remotely."""
        job = self._prepare(stages)
        stage = self._client_stage(job.line, display=job.display, encoding=job.encoding, **job.redirects)
        return stage, job

    async def nohup_command(
        self, cmd: BaseCommand, *, cwd: str = ".", stdout: str = "nohup.out", stderr: str | None = None, append: bool = True
    ) -> Job:
        """Start ``cmd`` detached on the remote (it outlives the connection), output to remote files."""
        self._check_open()
        stages = cmd.plan().stages
        state = self._state()
        inner = remote_line(stages)
        redirect = (">>" if append else ">") + " " + quote(stdout)
        err = "2>&1" if stderr is None else ("2>>" if append else "2>") + " " + quote(stderr)
        where = posixpath.join(state.cwd, cwd)
        changed, unset = self._env_delta()
        line = remote_line(
            [Stage(stages[0].command, ["nohup", "sh", "-c", inner])], cwd=where, env=changed, unset=unset
        ) + f" {redirect} {err} </dev/null &"
        plan = Plan([self._client_stage(line, display=["nohup", *stages[0].shown_argv])])
        return await self._local()._start(plan, stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL)

    # -- forwarding (machines/tunnel.py) ----------------------------------------------
    def _forwarder(self) -> Any:
        """The transport's :class:`~tether.transports.forwarding.Forwarder` for this connection."""
        raise NotImplementedError

    def _forwarding(self, what: str, *args: Any) -> Any:
        """A coroutine of ``Forwards.<what>`` (for the SSH loop) with this machine's forwarder."""
        from .tunnel import Forwards

        self._check_open()
        if self._forwards is None:
            self._forwards = Forwards()
        if what == "tunnel":
            return self._forwards.tunnel(self.facade or self, self._forwarder(), self._remove_socket_file, *args)
        return self._forwards.connect_sock(self._forwarder(), *args)

    async def _remove_socket_file(self, path: str) -> None:
        """Remove the unix socket a reverse tunnel had sshd create (sshd leaves it behind)."""
        line = f"[ ! -S {quote(path)} ] || rm -f -- {quote(path)}"
        if not self._closed:
            await asyncio.to_thread(self._control, line, None)

    async def tunnel(
        self, lport: Any, dport: Any, lhost: str = "localhost", dhost: str = "localhost", reverse: bool = False,
        timeout: float = 10.0,
    ) -> Tunnel:
        """A port forward over this machine's connection (see :class:`tether.machines.tunnel.Tunnel`)."""
        made = ssh_portal.submit(lambda: self._forwarding("tunnel", lport, dport, lhost, dhost, reverse, timeout))
        return await asyncio.wrap_future(made)

    async def connect_sock(self, port: Any, host: str = "localhost", timeout: float = 10.0) -> TunnelSocket:
        """A socket connected by the remote to ``host:port`` (or a unix socket path) as it sees them."""
        return await asyncio.wrap_future(ssh_portal.submit(lambda: self._forwarding("connect_sock", port, host, timeout)))

    # -- closing -----------------------------------------------------------------------
    def _close_blocking(self) -> None:
        if self._closed:
            return
        forwards, self._forwards = self._forwards, None
        if forwards is not None:  # before the connection goes, so each part ends cleanly
            with contextlib.suppress(Exception):
                ssh_portal.call(forwards.close)
        self._close_agent_blocking()
        session, self._control_session = self._control_session, None
        if session is not None:
            if self._remote is not None and session.alive:
                try:  # what still runs dies with the connection (the trap would do it too)
                    session.run(RemoteJobs.stop_script(), retcode=None, timeout=5)
                except Exception:  # best effort on the way out
                    pass
            session.close()
        self._closed = True
        self._disconnect()
        log.debug("[%s] closed", self.host)

    async def close(self) -> None:
        await asyncio.to_thread(self._close_blocking)


# after a client process exits, how long sshd may still count its session
# (it frees it when it has read the master's close: about one loopback round trip)
_SSHD_CLOSE_LAG = 0.005


def release_when_done(handle: Any, release: Callable[[], None]) -> None:
    """Call ``release`` once the process behind ``handle`` has exited."""
    done = getattr(handle, "add_done_callback", None)
    if done is not None:  # a channel: its completion future
        done(lambda _: release())
        return

    def wait_then_release() -> None:
        try:
            handle.wait()
            time.sleep(_SSHD_CLOSE_LAG)
        finally:
            release()

    threading.Thread(target=wait_then_release, name="tether-channel-slot", daemon=True).start()


#: facades still open: closed at exit before tether's loops stop (see _portal.before_stop_at_exit)
_open_machines: weakref.WeakSet[RemoteMachine] = weakref.WeakSet()


def _close_open_machines() -> None:
    for machine in list(_open_machines):
        machine._finalizer()


before_stop_at_exit(_close_open_machines)


def _local_facade() -> Any:
    from .local import local

    return local


def _is_local_file(target: Any) -> bool:
    from ..paths.local import LocalPath

    return isinstance(target, FileTarget) and isinstance(target.path, LocalPath)


class RemoteMachine(Machine):
    """The blocking facade of a remote machine: connects on construction."""

    aio: AsyncRemoteMachine

    #: the async core a subclass wraps; its constructor's arguments are the facade's
    _core: type[AsyncRemoteMachine]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_core" in cls.__dict__:  # help() and inspect show the core's parameters
            cls.__signature__ = inspect.signature(cls._core)  # type: ignore[attr-defined]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        aio = self._core(*args, **kwargs)
        super().__init__(aio)
        aio.facade = self
        aio._connect_logged()
        # a machine dropped without close(), or still open at exit, still hangs up
        self._finalizer = weakref.finalize(self, aio._close_blocking)
        _open_machines.add(self)

    @classmethod
    def _over(cls, aio: AsyncRemoteMachine) -> RemoteMachine:
        """A facade over a core someone else owns (an async machine): closing stays with the owner."""
        facade = cls.__new__(cls)
        Machine.__init__(facade, aio)
        facade._finalizer = weakref.finalize(facade, lambda: None)
        return facade

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.aio.host}>"

    @property
    def cwd(self) -> RemoteWorkdir:
        return self.aio.cwd

    def which(self, progname: str) -> Any:
        return self.aio._which(progname)

    def _resolve(self, name: Any) -> Any:
        return self.aio._resolve_checked(name)

    def __contains__(self, name: str) -> bool:
        return Machine.__contains__(self, name)

    def path(self, *parts: Any) -> Any:
        return self.aio.path(*parts)

    @property
    def python(self) -> Any:
        return self.aio.python

    def tempdir(self) -> Any:
        return self.aio.tempdir()

    def upload(self, src: Any, dst: Any, progress: Any = None) -> Any:
        """Copy a local file or directory to ``dst`` here (into it if it is a directory), atomically.

        ``progress(done, total)`` is called as bytes go (``total`` is None for a directory).
        """
        from .transfer import upload

        return upload(self, src, dst, progress)

    def download(self, src: Any, dst: Any, progress: Any = None) -> Any:
        """Copy a file or directory from here to local ``dst`` (into it if it is a directory), atomically.

        ``progress(done, total)`` is called as bytes arrive (``total`` is None for a directory).
        """
        from .transfer import download

        return download(self, src, dst, progress)

    @property
    def uname(self) -> str:
        return self.aio.uname

    def list_processes(self) -> list[ProcInfo]:
        return parse_ps(self.aio._control(_PS)[1])

    def pgrep(self, pattern: str) -> list[ProcInfo]:

        regex = re.compile(pattern)
        return [p for p in self.list_processes() if regex.search(p.args)]

    def __enter__(self) -> RemoteMachine:
        return self

    def connect(self) -> None:
        """Open the connection; the constructor already did, so this only checks it is not closed."""
        self.aio._ensure_connected()

    # Commands run as local client processes (or channels posing as them): the
    # local machine's blocking runner handles them, mixed pipelines included.
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
        """Run ``cmd`` to completion: ``(rc, stdout, stderr)`` (see ``LocalMachine.run_command``)."""
        from .local import local

        options = dict(
            retcode=retcode, timeout=timeout, stdin=stdin, stdout=stdout, stderr=stderr, tee=tee,
            tee_buffered=tee_buffered, result=result,
        )
        collected = self.aio._run_collected(cmd, options)
        if collected is not None:
            return collected
        return local.run_command(cmd, **options)

    def popen_command(self, cmd: BaseCommand, *, stdin: Any = PIPE, stdout: Any = PIPE, stderr: Any = PIPE) -> Any:
        """Start ``cmd``; the handle's ``pid`` is the REMOTE pid (the local client's is ``client_pid``)."""
        from .local import local

        return local.popen_command(cmd, stdin=stdin, stdout=stdout, stderr=stderr)

    def session(self, new_session: bool = False) -> Any:
        """A persistent remote shell: ``s.run("cd /tmp && ls | grep b")`` -> (rc, out, err)."""
        return self.aio._blocking_session()

    def tunnel(
        self, lport: Any, dport: Any, lhost: str = "localhost", dhost: str = "localhost", reverse: bool = False,
        timeout: float = 10.0,
    ) -> Tunnel:
        """A port forward over this machine's connection: ``with rem.tunnel(6666, 8888): ...``

        ::

            reverse=False: client -> lhost:lport (here) ==ssh==> remote -> dhost:dport
            reverse=True:  lhost:lport (here) <- here <==ssh== remote <- dhost:dport (there) <- client

        ``lport=0`` (``dport=0`` when reversed) picks a free port, reported as
        ``tun.lport`` (``tun.dport``); a str port is a unix socket path.
        ``close()`` stops listening and drops active connections. See
        :class:`tether.machines.tunnel.Tunnel` and docs/tunnels.md.
        """
        return ssh_portal.call(lambda: self.aio._forwarding("tunnel", lport, dport, lhost, dhost, reverse, timeout))

    def connect_sock(self, port: Any, host: str = "localhost", timeout: float = 10.0) -> TunnelSocket:
        """A socket whose far end the remote connected to ``host:port`` (or a unix socket path).

        ``s = rem.connect_sock(12345); s.send(b"carrot"); s.recv(1000)``; a refused
        connection is a TunnelError. See :class:`tether.machines.tunnel.TunnelSocket`.
        """
        return ssh_portal.call(lambda: self.aio._forwarding("connect_sock", port, host, timeout))

    def close(self) -> None:
        self._finalizer()

    def _control(self, text: str, retcode: Any = 0) -> tuple:
        return self.aio._control(text, retcode)

    @property
    def closed(self) -> bool:
        return self.aio._closed

    def _check_open(self) -> None:
        if self.aio._closed:
            raise ClosedError(f"{self!r} is closed")
