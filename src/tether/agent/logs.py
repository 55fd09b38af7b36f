"""Log forwarding, the local half: remote records and remote output become local log records.

The remote half lives in :mod:`tether.agent.remote_main` (a handler on the
remote root logger, installed when shipped code first imports ``logging``).
Here each LOG frame becomes a record of the logger ``tether.remote.<host>``
with the remote level, message, file, line and function; the remote
logger's name is kept as ``record.remote_logger``. Lines the remote writes
to its stdout or stderr (prints, child processes) are logged at INFO with
``remote_logger == "stderr"``.
"""

from __future__ import annotations

import logging

from .. import codec

log = logging.getLogger(__name__)


def remote_logger(host: str | None) -> logging.Logger:
    """The local logger for records from ``host``'s agent (``tether.remote.local`` for this machine)."""
    return logging.getLogger(f"tether.remote.{host or 'local'}")


def emit_record(logger: logging.Logger, payload: bytes) -> None:
    """Log one LOG frame's record (``[name, level, message, pathname, lineno, funcName]``)."""
    try:
        name, level, message, pathname, lineno, func = codec.decode(payload)
        if not logger.isEnabledFor(level):
            return
        record = logger.makeRecord(logger.name, level, pathname, lineno, message, (), None, func, {"remote_logger": name})
    except (ValueError, TypeError) as exc:
        log.warning("%s: a malformed log record from the agent: %s", logger.name, exc)
        return
    logger.handle(record)


def emit_output(logger: logging.Logger, line: str) -> None:
    """One line of the remote's own output."""
    logger.info("%s", line, extra={"remote_logger": "stderr"})
