"""The one small interface every transport implements.

A transport knows how to start a process on its machine and hand back its
standard streams as asyncio streams, its exit status and a way to signal it.
The local machine, an SSH channel, an ``ssh``/``plink`` subprocess and a
container exec all fit behind it, so the machine logic above (pipelines,
sessions, timeouts, cleanup) is written once.

Stream arguments follow :mod:`subprocess`: ``PIPE`` gives an asyncio stream,
``DEVNULL`` discards, ``None`` inherits ours (foreground), ``STDOUT`` (for
stderr) merges; a local transport also accepts an int file descriptor.
"""

from __future__ import annotations

import abc
import asyncio
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL
STDOUT = subprocess.STDOUT


class Process(abc.ABC):
    """A running process on some machine."""

    pid: int | None
    stdin: asyncio.StreamWriter | None
    stdout: asyncio.StreamReader | None
    stderr: asyncio.StreamReader | None

    @property
    @abc.abstractmethod
    def returncode(self) -> int | None:
        """The exit code once known; ``-N`` when killed by signal N."""

    @abc.abstractmethod
    async def wait(self) -> int:
        """Wait for exit and return the exit code."""

    @abc.abstractmethod
    def send_signal(self, sig: int) -> None:
        """Signal the process AND its process group (its children go too)."""

    def kill(self) -> None:
        import signal

        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        import signal

        self.send_signal(signal.SIGTERM)


class Transport(abc.ABC):
    """Starts processes on one machine."""

    #: shown in errors; None for the local machine
    host: str | None = None

    @abc.abstractmethod
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
        """Start ``argv``. ``env`` is the COMPLETE environment; ``detach`` puts it
        in a new session so it outlives us (NOHUP)."""

    async def close(self) -> None:  # noqa: B027 - optional hook, most transports hold nothing
        """Release connections; processes already started are not waited for."""
