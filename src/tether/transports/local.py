"""Processes on this machine, started with asyncio's subprocess support."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any, Mapping, Sequence

from .base import PIPE, Process, Transport


class LocalProcess(Process):
    def __init__(self, proc: asyncio.subprocess.Process, own_group: bool) -> None:
        self._proc = proc
        self._own_group = own_group
        self.pid = proc.pid
        self.stdin = proc.stdin
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    async def wait(self) -> int:
        return await self._proc.wait()

    def send_signal(self, sig: int) -> None:
        # The group id is the leader's pid; it stays valid (and is never reused)
        # while any member lives, so this also reaches children of an exited leader.
        try:
            if self._own_group:
                os.killpg(self.pid, sig)
            elif self._proc.returncode is None:
                os.kill(self.pid, sig)
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
        kwargs: dict[str, Any] = {}
        foreground = stdin is None and stdout is None
        if detach:
            kwargs["start_new_session"] = True
        elif not foreground:
            # Own process group, so a timeout or cancel kills the whole tree;
            # a foreground command stays in ours to receive the terminal's ^C.
            if sys.version_info >= (3, 11):
                kwargs["process_group"] = 0
            else:  # pragma: no cover - 3.10
                kwargs["preexec_fn"] = os.setpgrp
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            limit=1 << 20,
            **kwargs,
        )
        return LocalProcess(proc, own_group=not foreground)
