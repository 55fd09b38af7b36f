"""Execution modifiers, applied with ``&``: ``cmd & FG``, ``cmd & TF(1)``.

Each modifier is a small value object; ``cmd & MOD`` hands the command to its
machine with the right options. Called with arguments a modifier returns a
configured copy (``RETCODE(FG=True)``, ``TEE(retcode=None)``)::

    ls["-l"] & FG                 # run in the foreground: the terminal's stdio
    f = sleep[5] & BG             # a background future: f.wait(), f.stdout
    grep["x", "f"] & TF           # True if the exit code is 0
    grep["x", "f"] & TF(1)        # True if it is 1
    make & RETCODE                # just the exit code
    rc, out, err = make & TEE     # show output live and collect it
    server & NOHUP                # detached, output to ./nohup.out
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .base import BaseCommand

__all__ = ["BG", "FG", "NOHUP", "RETCODE", "TEE", "TF"]


class _Modifier:
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        names = [f for f in self.__dataclass_fields__]  # type: ignore[attr-defined]
        return replace(self, **dict(zip(names, args, strict=False)), **kwargs)  # type: ignore[type-var]

    def __rand__(self, cmd: BaseCommand) -> Any:
        if not isinstance(cmd, BaseCommand):
            return NotImplemented
        return self.apply(cmd)

    def apply(self, cmd: BaseCommand) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class _FG(_Modifier):
    """Run with the terminal's stdin/stdout/stderr; raise on an unexpected exit code."""

    retcode: Any = 0
    timeout: float | None = None

    def apply(self, cmd: BaseCommand) -> Any:
        return cmd.machine.run_command(
            cmd, retcode=self.retcode, timeout=self.timeout, stdin=None, stdout=None, stderr=None
        )


@dataclass(frozen=True)
class _BG(_Modifier):
    """Start in the background; returns a future with ``wait()``, ``stdout``, ``returncode``."""

    retcode: Any = 0
    timeout: float | None = None

    def apply(self, cmd: BaseCommand) -> Any:
        return cmd.machine.bg_command(cmd, retcode=self.retcode, timeout=self.timeout)


@dataclass(frozen=True)
class _TF(_Modifier):
    """True when the exit code is the expected one (0 by default), else False."""

    retcode: Any = 0
    FG: bool = False
    timeout: float | None = None

    def apply(self, cmd: BaseCommand) -> Any:
        expected = self.retcode
        expected = (expected,) if isinstance(expected, int) else tuple(expected)
        rc = _run_for_code(cmd, self.FG, self.timeout)
        return rc in expected


@dataclass(frozen=True)
class _RETCODE(_Modifier):
    """The exit code, whatever it is."""

    FG: bool = False
    timeout: float | None = None

    def apply(self, cmd: BaseCommand) -> Any:
        return _run_for_code(cmd, self.FG, self.timeout)


def _run_for_code(cmd: BaseCommand, fg: bool, timeout: float | None) -> Any:
    machine = cmd.machine
    if fg:
        return machine.run_command(cmd, retcode=None, timeout=timeout, stdin=None, stdout=None, stderr=None)
    return machine.run_command(cmd, retcode=None, timeout=timeout, result="retcode")


@dataclass(frozen=True)
class _TEE(_Modifier):
    """Copy output to our stdout/stderr as it arrives and return ``(rc, out, err)``."""

    retcode: Any = 0
    buffered: bool = True
    timeout: float | None = None

    def apply(self, cmd: BaseCommand) -> Any:
        return cmd.machine.run_command(
            cmd, retcode=self.retcode, timeout=self.timeout, tee=True, tee_buffered=self.buffered
        )


@dataclass(frozen=True)
class _NOHUP(_Modifier):
    """Start detached from us (own session, stdin from /dev/null), output to a file.

    ``stderr=None`` sends stderr to the same file as stdout. Returns the
    Popen-like handle; the process outlives this program.
    """

    cwd: str = "."
    stdout: str = "nohup.out"
    stderr: str | None = None
    append: bool = True

    def apply(self, cmd: BaseCommand) -> Any:
        return cmd.machine.nohup_command(
            cmd, cwd=self.cwd, stdout=self.stdout, stderr=self.stderr, append=self.append
        )


FG = _FG()
BG = _BG()
TF = _TF()
RETCODE = _RETCODE()
TEE = _TEE()
NOHUP = _NOHUP()
