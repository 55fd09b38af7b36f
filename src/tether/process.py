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

from collections.abc import Callable, Sequence
from typing import Any

from .commands.quoting import shell_line
from .exceptions import ProcessExecutionError
from .transports.base import DEVNULL

#: how many trailing lines of each stream a ``run`` failure carries
_TAIL = 20


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
    with command.popen(stdin=DEVNULL) as proc:  # the with: streams closed, process killed on an error
        for out, err in proc.iter_lines(retcode=None, timeout=timeout):
            if out is not None:
                on_line(1, out[:-1] if out.endswith("\n") else out)
            else:
                on_line(2, err[:-1] if err.endswith("\n") else err)
    return argv, proc.returncode


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
