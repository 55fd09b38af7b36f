"""remoto's ``process.run`` and ``process.check`` over any tether connection.

::

    >>> from tether.process import run, check
    >>> run(conn, ["whoami"])
    INFO:myhost:Running command: whoami
    DEBUG:myhost:root
    >>> check(conn, ["ls", "/nonexistent/path"])
    ([], ['ls: cannot access ...: No such file or directory'], 2)

``run`` logs each output line as it arrives, stdout at DEBUG and stderr at
ERROR, on the connection's logger, and raises ProcessExecutionError on a
non-zero exit when ``stop_on_error``. ``check`` returns the lines. Both read
stdout and stderr at once, to the end of both, so no line is lost or held
back whatever the order the program writes them in (remoto loses some
stderr lines). The command line is logged quoted, so what the log shows is
exactly what ran. A program that is not on the target's PATH raises
CommandNotFound.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import time
from collections.abc import Callable, Sequence
from typing import Any

from ._portal import portal
from .commands.quoting import shell_line
from .exceptions import ProcessExecutionError, ProcessTimedOut
from .execution.job import decode
from .transports.base import DEVNULL

_CHUNK = 1 << 16
#: how many trailing lines of each stream a ``run`` failure carries
_TAIL = 20


async def _pump(machine: Any, command: Any, sink: queue.SimpleQueue, timeout: float | None) -> int:
    """In tether's loop: run ``command``, put its lines on ``sink`` in batches as they arrive; the exit code.

    The caller's thread takes the batches off the queue and logs them there,
    so a log handler runs in the caller's thread (it may use tether itself),
    and lines cost a queue hand-off per read rather than a round trip each.
    """
    try:
        job = await machine.aio.popen_command(command, stdin=DEVNULL)

        async def to_the_end() -> int:
            streams = ((1, job.stdout), (2, job.stderr))
            await asyncio.gather(*(_lines(fd, reader, job.encoding, sink) for fd, reader in streams))
            return await job.wait()

        try:
            return await asyncio.wait_for(to_the_end(), timeout)
        except BaseException as exc:
            if job.returncode is None:  # timed out or cancelled: end it, on the target too
                await asyncio.to_thread(job.kill)
                await asyncio.shield(job.wait())
            if isinstance(exc, asyncio.TimeoutError):
                raise ProcessTimedOut(job.argv, timeout, host=job.host) from None
            raise
    finally:
        sink.put(None)


async def _lines(fd: int, reader: asyncio.StreamReader, encoding: str | None, sink: queue.SimpleQueue) -> None:
    """Put ``[(fd, line), ...]`` on ``sink`` for every read that completes lines; the last may lack its newline."""
    buffer = bytearray()
    while chunk := await reader.read(_CHUNK):
        buffer += chunk
        end = buffer.rfind(b"\n")
        if end >= 0:
            complete = bytes(buffer[:end])
            del buffer[: end + 1]
            sink.put([(fd, decode(line, encoding or "utf-8")) for line in complete.split(b"\n")])
    if buffer:
        sink.put([(fd, decode(bytes(buffer), encoding or "utf-8"))])


def _execute(
    conn: Any,
    cmd: Sequence[Any],
    on_line: Callable[[int, str], None],
    *,
    stdin: str | bytes | None,
    timeout: float | None,
    env: dict[str, Any] | None,
    cwd: Any,
) -> tuple[list[str], int]:
    """Log and run ``cmd``, passing each line (newline removed) to ``on_line(fd, line)``; ``(argv, rc)``."""
    argv = conn.argv(cmd)
    conn.logger.info("Running command: %s", shell_line(argv))
    command = conn.command(cmd, env=env, cwd=cwd)
    if stdin is not None:
        command = command << stdin
    sink: queue.SimpleQueue = queue.SimpleQueue()
    future = portal.submit(_pump, conn.machine, command, sink, timeout)
    try:
        while (batch := sink.get()) is not None:
            for fd, line in batch:
                on_line(fd, line)
    except BaseException:
        future.cancel()  # the pump kills the command, on the target too...
        _wait_for_end(sink)  # ...and says so: nothing outlives this call
        raise
    return argv, future.result()


def _wait_for_end(sink: queue.SimpleQueue, patience: float = 30) -> None:
    """Skip lines until the pump's end mark (it comes once the command is gone), for ``patience`` seconds at most."""
    deadline = time.monotonic() + patience
    with contextlib.suppress(queue.Empty):
        while sink.get(timeout=max(0.0, deadline - time.monotonic())) is not None:
            pass


def run(
    conn: Any,
    cmd: Sequence[Any],
    timeout: float | None = None,
    stop_on_error: bool = True,
    env: dict[str, Any] | None = None,
    cwd: Any = None,
) -> int:
    """Run ``cmd`` on ``conn``, logging its output as it comes; returns the exit code.

    ``env`` adds variables for this command; ``cwd`` is where it runs;
    ``timeout`` (seconds) kills it and raises ProcessTimedOut. A non-zero
    exit raises ProcessExecutionError (with the last lines of output) unless
    ``stop_on_error`` is false.
    """
    logger = conn.logger
    tails: dict[int, list[str]] = {1: [], 2: []}

    def log(fd: int, line: str) -> None:
        (logger.debug if fd == 1 else logger.error)(line)
        tail = tails[fd]
        tail.append(line)
        del tail[:-_TAIL]

    argv, rc = _execute(conn, cmd, log, stdin=None, timeout=timeout, env=env, cwd=cwd)
    if rc != 0 and stop_on_error:
        out, err = ("".join(f"{line}\n" for line in tails[fd]) for fd in (1, 2))
        host = conn.machine.host
        raise ProcessExecutionError(argv, rc, out, err, host, message=f"Failed to execute command: {shell_line(argv)}")
    return rc


def check(
    conn: Any,
    cmd: Sequence[Any],
    stdin: str | bytes | None = None,
    timeout: float | None = None,
    env: dict[str, Any] | None = None,
    cwd: Any = None,
) -> tuple[list[str], list[str], int]:
    """Run ``cmd`` on ``conn`` and return ``(stdout_lines, stderr_lines, exit_code)``, newlines removed.

    ``stdin`` (str or bytes) is fed to the command; the other arguments are
    as for :func:`run`. A non-zero exit is returned, not raised.
    """
    lines: dict[int, list[str]] = {1: [], 2: []}
    _, rc = _execute(
        conn, cmd, lambda fd, line: lines[fd].append(line), stdin=stdin, timeout=timeout, env=env, cwd=cwd
    )
    return lines[1], lines[2], rc


__all__ = ["check", "run"]
