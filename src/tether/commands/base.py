"""The command algebra: immutable command objects built with operators.

A command is pure data. It knows its machine only as an object that can
execute it (``machine.run_command`` and friends); nothing here starts a
process. The same object therefore works locally, over SSH and under sudo::

    ls = local["ls"]
    (ls["-a"] | grep["b"])()            # a pipeline, run with pipefail semantics
    (ls > "/tmp/listing")()             # redirection
    sudo[ls["-a"]].formulate()          # ['/usr/bin/sudo', '/usr/bin/ls', '-a']
    ssh["host", ls["-a", "my file"]]    # the nested command becomes ONE quoted
                                        # shell line, because ssh hands its
                                        # arguments to a remote shell

Nesting rule: a nested command's argv is spliced into the outer argv (right
for sudo, env, nohup, timeout, ...), except when the outer program is one
that passes its arguments to a shell (ssh, plink, sh -c, ...): then the nested
command becomes a single, fully quoted shell line. Quoting happens exactly
once per level, so any depth is correct (plumbum quoted nested commands a
second time, its issue #253).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .quoting import check_argv, check_env_name, shell_line

if TYPE_CHECKING:  # pragma: no cover
    from .plan import Plan

#: programs that hand their trailing arguments to a shell: a nested command
#: given to them is rendered as one quoted shell line rather than spliced
SHELL_LINE_PROGRAMS = frozenset(
    {"ssh", "plink", "autossh", "dbclient", "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash"}
)


class _ErrOut:
    """Redirect target that merges stderr into stdout: ``cmd >= ERROUT`` (``2>&1``)."""

    _instance: _ErrOut | None = None

    def __new__(cls) -> _ErrOut:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ERROUT"

    def __reduce__(self) -> str:
        return "ERROUT"


ERROUT = _ErrOut()


def _flatten_args(args: Any) -> tuple:
    if isinstance(args, (list, tuple)):
        return tuple(args)
    return (args,)


def as_arg(value: Any) -> str:
    """Turn one argument value into the str a program receives."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        return path.decode("utf-8", "surrogateescape") if isinstance(path, bytes) else path
    return str(value)  # ints, floats, RemotePath and friends


class BaseCommand:
    """Operators and execution shortcuts shared by every command shape."""

    __slots__ = ()

    # -- shape -------------------------------------------------------------
    @property
    def machine(self) -> Any:
        raise NotImplementedError

    def _bind(self, args: tuple) -> BaseCommand:
        """Bind extra arguments to the command that receives them (the last one)."""
        return BoundCommand(self, args)

    def formulate(self) -> list[str]:
        """argv that runs this command (nested pipelines become ``sh -c LINE``)."""
        return ["/bin/sh", "-c", self.shell_line()]

    def shell_line(self) -> str:
        """One POSIX shell line that runs this command, every word quoted."""
        return shell_line(self.formulate())

    def plan(self) -> Plan:
        """The execution plan: stages with argv, env, cwd and redirections."""
        from .plan import make_plan

        return make_plan(self)

    def __str__(self) -> str:
        return self.shell_line()

    # -- building ----------------------------------------------------------
    def __getitem__(self, args: Any) -> BaseCommand:
        args = _flatten_args(args)
        return self._bind(args) if args else self

    def __or__(self, other: BaseCommand) -> Pipeline:
        if not isinstance(other, BaseCommand):
            return NotImplemented
        return Pipeline(self, other)

    def __gt__(self, file: Any) -> StdoutRedirection:
        return StdoutRedirection(self, file)

    def __rshift__(self, file: Any) -> AppendingStdoutRedirection:
        return AppendingStdoutRedirection(self, file)

    def __ge__(self, file: Any) -> StderrRedirection:
        return StderrRedirection(self, file)

    def __lt__(self, file: Any) -> StdinRedirection:
        return StdinRedirection(self, file)

    def __lshift__(self, data: str | bytes) -> StdinDataRedirection:
        return StdinDataRedirection(self, data)

    def with_env(self, **env: Any) -> BaseCommand:
        """The same command with extra environment variables."""
        return BoundEnvCommand(self, env=env) if env else self

    setenv = with_env  # plumbum's older name

    def with_cwd(self, path: Any) -> BaseCommand:
        """The same command, run in another working directory."""
        return BoundEnvCommand(self, cwd=as_arg(path))

    # -- running (delegated to the machine) --------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run and return stdout; raise ProcessExecutionError on an unexpected exit code."""
        return self.machine.call_command(self[args] if args else self, **kwargs)

    def run(self, args: Any = (), **kwargs: Any) -> Any:
        """Run and return ``(retcode, stdout, stderr)``; ``retcode=`` sets what is expected."""
        return self.machine.run_command(self[args] if args else self, **kwargs)

    def popen(self, args: Any = (), **kwargs: Any) -> Any:
        """Start the command and return a Popen-like handle (streams, pid, wait, kill)."""
        return self.machine.popen_command(self[args] if args else self, **kwargs)

    def iter_lines(self, args: Any = (), **kwargs: Any) -> Any:
        """Yield ``(stdout_line, stderr_line)`` pairs (one of them None) as they arrive."""
        return self.machine.iter_command_lines(self[args] if args else self, **kwargs)

    @contextmanager
    def bgrun(self, args: Any = (), **kwargs: Any) -> Iterator[Any]:
        """Run in the background for the duration of a ``with`` block.

        On leaving the block the process is waited for and its exit code
        checked (``retcode=``); ``p.run()`` inside the block does that early::

            with mkfs["-t", "ext3", "/dev/sda1"].bgrun() as p1, mkfs[...].bgrun() as p2:
                pass
        """
        retcode = kwargs.pop("retcode", 0)
        timeout = kwargs.pop("timeout", None)
        proc = self.popen(args, **kwargs)
        try:
            yield proc
        except BaseException:
            proc.kill()
            proc.run(retcode=None)
            raise
        proc.run(retcode=retcode, timeout=timeout)


class Command(BaseCommand):
    """A program on a machine: ``local["ls"]``, ``rem["/usr/bin/python3"]``."""

    __slots__ = ("_machine", "encoding", "executable")

    def __init__(self, machine: Any, executable: Any, encoding: str | None = "utf-8") -> None:
        self._machine = machine
        self.executable = as_arg(executable)
        self.encoding = encoding

    @property
    def machine(self) -> Any:
        return self._machine

    @property
    def takes_shell_line(self) -> bool:
        return posixpath.basename(self.executable) in SHELL_LINE_PROGRAMS

    def argv(self, args: tuple = ()) -> list[str]:
        argv = [self.executable]
        for a in args:
            if a is None:
                continue
            if isinstance(a, BaseCommand):
                if self.takes_shell_line:
                    argv.append(a.shell_line())
                else:
                    argv.extend(a.formulate())
            elif isinstance(a, (list, tuple)):
                argv.extend(as_arg(x) for x in a if x is not None)
            else:
                argv.append(as_arg(a))
        return check_argv(argv)

    def formulate(self) -> list[str]:
        return self.argv()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._machine!r} {self.executable!r}>"

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and other._machine is self._machine
            and other.executable == self.executable
        )

    def __hash__(self) -> int:
        return hash((id(self._machine), self.executable))


class BoundCommand(BaseCommand):
    """A command with arguments bound: ``ls["-a", path]``."""

    __slots__ = ("args", "cmd")
    args: tuple
    cmd: BaseCommand

    def __init__(self, cmd: BaseCommand, args: tuple) -> None:
        if isinstance(cmd, BoundCommand):
            args = cmd.args + tuple(args)
            cmd = cmd.cmd
        self.cmd = cmd
        self.args = tuple(args)

    @property
    def machine(self) -> Any:
        return self.cmd.machine

    def formulate(self) -> list[str]:
        if isinstance(self.cmd, Command):
            return self.cmd.argv(self.args)
        return super().formulate()

    def __repr__(self) -> str:
        return f"BoundCommand({self.cmd!r}, {self.args!r})"


class BoundEnvCommand(BaseCommand):
    """A command run with extra environment variables and/or another cwd."""

    __slots__ = ("cmd", "cwd", "env")

    def __init__(self, cmd: BaseCommand, env: dict | None = None, cwd: str | None = None) -> None:
        self.cmd = cmd
        self.env = {check_env_name(k): as_arg(v) for k, v in (env or {}).items()}
        self.cwd = cwd

    @property
    def machine(self) -> Any:
        return self.cmd.machine

    def _bind(self, args: tuple) -> BaseCommand:
        return BoundEnvCommand(self.cmd[args], self.env, self.cwd)

    def formulate(self) -> list[str]:
        inner = self.cmd.formulate()
        argv = ["env", *(f"{k}={v}" for k, v in self.env.items()), *inner] if self.env else inner
        if self.cwd is None:
            return argv
        return ["/bin/sh", "-c", f"cd {shell_line([self.cwd])} && exec {shell_line(argv)}"]

    def shell_line(self) -> str:
        # `cd DIR && K=V prog` per stage reads better than nested `sh -c` quoting
        from .plan import plan_shell_line

        return plan_shell_line(self.plan())

    def __repr__(self) -> str:
        return f"BoundEnvCommand({self.cmd!r}, env={self.env!r}, cwd={self.cwd!r})"


class Pipeline(BaseCommand):
    """``src | dst``: dst reads what src writes. Arguments bind to the last stage."""

    __slots__ = ("dst", "src")

    def __init__(self, src: BaseCommand, dst: BaseCommand) -> None:
        self.src = src
        self.dst = dst

    @property
    def machine(self) -> Any:
        return self.src.machine

    def _bind(self, args: tuple) -> BaseCommand:
        return Pipeline(self.src, self.dst[args])

    def shell_line(self) -> str:
        from .plan import plan_shell_line

        return plan_shell_line(self.plan())

    def __repr__(self) -> str:
        return f"Pipeline({self.src!r}, {self.dst!r})"


class Redirection(BaseCommand):
    """Base of ``>``, ``>>``, ``>=`` (stderr), ``<`` and ``<<`` (data)."""

    __slots__ = ("cmd", "target")
    STREAM = ""  # "stdin" | "stdout" | "stderr"
    APPEND = False

    def __init__(self, cmd: BaseCommand, target: Any) -> None:
        self.cmd = cmd
        self.target = target

    @property
    def machine(self) -> Any:
        return self.cmd.machine

    def _bind(self, args: tuple) -> BaseCommand:
        return type(self)(self.cmd[args], self.target)

    def shell_line(self) -> str:
        from .plan import plan_shell_line

        return plan_shell_line(self.plan())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.cmd!r}, {self.target!r})"


class StdoutRedirection(Redirection):
    __slots__ = ()
    STREAM = "stdout"


class AppendingStdoutRedirection(Redirection):
    __slots__ = ()
    STREAM = "stdout"
    APPEND = True


class StderrRedirection(Redirection):
    __slots__ = ()
    STREAM = "stderr"


class StdinRedirection(Redirection):
    __slots__ = ()
    STREAM = "stdin"


class StdinDataRedirection(Redirection):
    """``cmd << "text"``: the process reads the given str/bytes on stdin."""

    __slots__ = ()
    STREAM = "stdin"
