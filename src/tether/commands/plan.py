"""Flatten a command tree into an execution plan (still no I/O).

A plan is the list of pipeline stages, each with its argv, environment
overrides, working directory and redirections. Machines execute plans: the
local machine chains OS pipes between processes, a remote machine turns the
stages that run on it into ONE shell line (:func:`plan_shell_line`), so the
data between them never passes through this process.

Redirection rules (shell-like): ``<`` and ``<<`` apply to the first stage,
``>``, ``>>`` and ``>=`` to the last one; redirecting the same stream twice is
an error rather than a silent override.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field, replace
from typing import Any

from ..exceptions import RedirectionError
from .base import (
    ERROUT,
    BaseCommand,
    BoundCommand,
    BoundEnvCommand,
    Command,
    Pipeline,
    Redirection,
    StdinDataRedirection,
    as_arg,
)
from .quoting import check_length, quote, shell_line


@dataclass(frozen=True)
class FileTarget:
    """A redirection to or from a path on the stage's machine."""

    path: Any  # str, LocalPath or RemotePath: the executing machine decides
    append: bool = False

    def __str__(self) -> str:
        return as_arg(self.path)


@dataclass(frozen=True)
class DataSource:
    """stdin fed from in-memory data (``cmd << "text"``)."""

    data: bytes


@dataclass(frozen=True)
class Stage:
    command: Command
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    stdin: FileTarget | DataSource | None = None
    stdout: FileTarget | None = None
    stderr: Any = None  # FileTarget | ERROUT | None
    #: for a stage that runs other stages remotely (``ssh host LINE``): what
    #: errors show as its command line, and the host it reaches
    display: list[str] | None = None
    host: str | None = None
    #: starts the stage instead of a local exec of ``argv`` (same signature
    #: as ``transports.local.spawn_popen``, plus ``reserved``; returns a Popen-like handle)
    launcher: Any = None
    #: the channel limit a launched stage draws from (``transports.slots.ChannelSlots``):
    #: async callers await a slot first and launch with ``reserved=True``
    slots: Any = None

    @property
    def machine(self) -> Any:
        return self.command.machine

    @property
    def shown_argv(self) -> list[str]:
        return self.display if self.display is not None else self.argv


@dataclass(frozen=True)
class Plan:
    stages: list[Stage]

    @property
    def argv_display(self) -> list[str]:
        """What to show as "the command line" in errors."""
        return self.stages[0].shown_argv if len(self.stages) == 1 else ["sh", "-c", plan_shell_line(self)]

    @property
    def encoding(self) -> str | None:
        return self.stages[-1].command.encoding


def _encode(data: str | bytes, encoding: str | None) -> bytes:
    if isinstance(data, bytes):
        return data
    return data.encode(encoding or "utf-8", "surrogateescape")


def make_plan(cmd: BaseCommand) -> Plan:
    return Plan(_stages(cmd))


def _stages(cmd: BaseCommand) -> list[Stage]:
    if isinstance(cmd, Command):
        return [Stage(cmd, cmd.argv())]
    if isinstance(cmd, BoundCommand):
        if isinstance(cmd.cmd, Command):
            return [Stage(cmd.cmd, cmd.cmd.argv(cmd.args))]
        return _stages(cmd.cmd._bind(cmd.args))
    if isinstance(cmd, BoundEnvCommand):
        return [_with_env(s, cmd) for s in _stages(cmd.cmd)]
    if isinstance(cmd, Pipeline):
        return _stages(cmd.src) + _stages(cmd.dst)
    if isinstance(cmd, Redirection):
        return _redirect(_stages(cmd.cmd), cmd)
    raise TypeError(f"not a command: {cmd!r}")


def _with_env(stage: Stage, outer: BoundEnvCommand) -> Stage:
    # inner settings win, as with nested `env A=1 env A=2 cmd` / nested `with env(...)`
    env = {**outer.env, **stage.env}
    cwd = stage.cwd
    if outer.cwd is not None:
        cwd = posixpath.join(outer.cwd, cwd) if cwd else outer.cwd
    return replace(stage, env=env, cwd=cwd)


def _redirect(stages: list[Stage], redir: Redirection) -> list[Stage]:
    stream = redir.STREAM
    index = 0 if stream == "stdin" else -1
    stage = stages[index]
    if getattr(stage, stream) is not None:
        raise RedirectionError(f"{stream} of {shell_line(stage.argv)!r} is already redirected")
    target: Any
    if isinstance(redir, StdinDataRedirection):
        target = DataSource(_encode(redir.target, stage.command.encoding))
    elif redir.target is ERROUT:
        if stream != "stderr":
            raise RedirectionError("ERROUT merges stderr into stdout: use `cmd >= ERROUT`")
        target = ERROUT
    elif isinstance(redir.target, BaseCommand):
        raise RedirectionError(f"cannot redirect {stream} to a command; use a pipe (|) instead")
    else:
        target = FileTarget(redir.target, append=redir.APPEND)
    stages = list(stages)
    stages[index] = replace(stage, **{stream: target})
    return stages


def stage_shell_line(stage: Stage) -> str:
    """One stage as shell text: ``cd DIR && K=V argv < in > out 2> err``."""
    words = [f"{k}={quote(v)}" for k, v in stage.env.items()]
    words.append(shell_line(stage.argv))
    if isinstance(stage.stdin, FileTarget):
        words.append("< " + quote(str(stage.stdin)))
    if stage.stdout is not None:
        words.append((">> " if stage.stdout.append else "> ") + quote(str(stage.stdout)))
    if stage.stderr is ERROUT:
        words.append("2>&1")
    elif stage.stderr is not None:
        words.append(("2>> " if stage.stderr.append else "2> ") + quote(str(stage.stderr)))
    line = " ".join(words)
    if isinstance(stage.stdin, DataSource):
        data = stage.stdin.data.decode("utf-8", "surrogateescape")
        line = f"printf %s {quote(data)} | {line}"
    if stage.cwd is not None:
        line = f"(cd {quote(stage.cwd)} && {line})"
    return line


def plan_shell_line(plan: Plan) -> str:
    """The whole plan as one POSIX shell pipeline."""
    return check_length(" | ".join(stage_shell_line(s) for s in plan.stages))
