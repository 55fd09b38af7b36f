"""Logging from many processes into one place: ``MpLogger`` and its parts.

::

    mplogger = MpLogger(logging_level=logging.DEBUG, logdir="/var/log/app", consolidate=True)
    logger = mplogger.start(name="main_process")
    proc = mp.Process(target=work, args=(mplogger.logger_info(),))   # spawn or fork
    ...                                          # in work(): MpLogger.get_logger(info, name="work")
    mplogger.stop()                              # every record written, files closed

Each process's records travel, in the order they were made, through one
multiprocessing queue to a listener thread in the process that called
``start()``; that thread alone writes the files, so records from different
processes never interleave mid-line and a rotation never races a writer::

    process A ─┐
    process B ─┼─> queue ─> listener thread ─> <key>.log (per logger name) + <name>.log (consolidated)
    main      ─┘

Nothing global is touched: no root-logger reset, no ``LogRecordFactory``
swap, no signal handler. The loggers MpLogger hands out get its queue
handler, its level, and ``propagate = False`` (so inherited root handlers in
a forked child do not print every record twice); other loggers are left alone.

Records carry ``%(host)s``: this host's name, looked up once per process
(``socket.gethostname()``, no DNS query per record).
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
import os
import socket
import sys
import threading
import time
import traceback
from datetime import datetime
from typing import Any

__all__ = ["LevelBasedFormatter", "MpLogger", "TimedSizedRotatingHandler"]

DEFAULT_FORMATS: dict[Any, str] = {
    logging.DEBUG: "[ %(asctime)s ][ %(host)s ][ %(processName)s ][ %(levelname)s ][ %(message)s ]"
    "[ %(module)s.%(funcName)s(%(lineno)d) ]",
    "default": "[ %(asctime)s ][ %(host)s ][ %(processName)s ][ %(levelname)s ][ %(message)s ]",
}
DEFAULT_DATEFMT = "%Y-%m-%d %H:%M:%S.%f"

_host: tuple[int, str] = (-1, "")  # (pid that asked, the answer)


def host_name() -> str:
    """This host's name, asked of the kernel once per process (``gethostname``: never a DNS lookup)."""
    global _host
    if _host[0] != os.getpid():
        _host = (os.getpid(), socket.gethostname())
    return _host[1]


class _MicrosecondFormatter(logging.Formatter):
    """A Formatter whose ``datefmt`` understands ``%f`` (the record's real microseconds)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created)
        return moment.strftime(datefmt or DEFAULT_DATEFMT)


class LevelBasedFormatter(logging.Formatter):
    """A format per level: ``{logging.DEBUG: "...%(lineno)d...", "default": "..."}``.

    Keys are levels (``logging.DEBUG`` or ``"DEBUG"``) and ``"default"`` for
    every other level. ``datefmt`` is a strftime format where ``%f`` gives
    the record's microseconds; without one, ``2026-11-22 10:00:00.123456``.
    ``%(host)s`` works even on records that did not pass through MpLogger.
    """

    def __init__(self, level_formats: dict | None = None, datefmt: str | None = None) -> None:
        formats = dict(DEFAULT_FORMATS)
        for level, fmt in (level_formats or {}).items():
            formats[_level_key(level)] = fmt
        self.datefmt = datefmt
        self._by_level = {level: _MicrosecondFormatter(fmt, datefmt) for level, fmt in formats.items()}
        self._default = self._by_level["default"]
        self._last: tuple[Any, str] = (None, "")  # MpLogger hands one record to several files
        super().__init__(formats["default"], datefmt)

    def format(self, record: logging.LogRecord) -> str:
        last = self._last  # one read: another thread may replace it meanwhile
        if last[0] is record:
            return last[1]
        if not hasattr(record, "host"):
            record.host = host_name()
        text = self._by_level.get(record.levelno, self._default).format(record)
        self._last = (record, text)
        return text

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return self._default.formatTime(record, datefmt)


def _level_key(level: Any) -> Any:
    if level == "default" or isinstance(level, int):
        return level
    number = logging.getLevelName(str(level).upper())
    if not isinstance(number, int):
        raise ValueError(f"level_formats key {level!r} is neither a logging level nor 'default'")
    return number


class TimedSizedRotatingHandler(logging.handlers.TimedRotatingFileHandler):
    """A log file that rolls over on time (``when``/``interval``) or size (``maxBytes``), whichever comes first.

    Rolled files are numbered like ``RotatingFileHandler``'s: ``app.log.1`` is
    the newest, up to ``app.log.<backupCount>``; ``backupCount=0`` keeps no
    old file (as in the stdlib). ``maxBytes=0`` means no size limit.
    """

    def __init__(
        self,
        filename: str | os.PathLike,
        file_mode: str = "a",
        maxBytes: int = 0,
        backupCount: int = 0,
        encoding: str | None = "utf-8",
        delay: bool = False,
        when: str = "h",
        interval: int = 1,
        utc: bool = False,
        atTime: Any = None,
    ) -> None:
        if maxBytes < 0 or backupCount < 0:
            raise ValueError(f"maxBytes and backupCount cannot be negative (got {maxBytes}, {backupCount})")
        self.maxBytes = maxBytes
        super().__init__(
            os.fspath(filename), when=when, interval=interval, backupCount=backupCount, encoding=encoding,
            delay=True, utc=utc, atTime=atTime,
        )
        self.mode = file_mode  # the stdlib class always opens with "a"
        if not delay:
            self.stream = self._open()
        self._size = _file_size(self.baseFilename) if file_mode == "a" else 0

    def shouldRollover(self, record: logging.LogRecord) -> bool:
        return self._due(len(self._encoded(self.format(record) + self.terminator)))

    def _due(self, pending: int) -> bool:
        """Roll over before writing ``pending`` more bytes? (A record bigger than maxBytes gets a file alone.)"""
        if time.time() >= self.rolloverAt:
            return True
        return 0 < self.maxBytes < self._size + pending and self._size > 0

    def _encoded(self, text: str) -> bytes:
        return text.encode(self.encoding or "utf-8", "replace")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record) + self.terminator
            size = len(self._encoded(text)) if self.maxBytes > 0 else 0
            if self._due(size):
                self.doRollover()
            if self.stream is None:
                self.stream = self._open()
            self.stream.write(text)
            self.stream.flush()
            self._size += size
        except Exception:
            self.handleError(record)

    def doRollover(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None
        if self.backupCount > 0:
            for number in range(self.backupCount - 1, 0, -1):
                older = f"{self.baseFilename}.{number}"
                if os.path.exists(older):
                    os.replace(older, f"{self.baseFilename}.{number + 1}")
            if os.path.exists(self.baseFilename):
                os.replace(self.baseFilename, f"{self.baseFilename}.1")
        self.mode = "w"  # a fresh file after a rollover, whatever file_mode said
        self.stream = self._open()
        self._size = 0
        now = int(time.time())
        self.rolloverAt = self.computeRollover(now)
        while self.rolloverAt <= now:
            self.rolloverAt += self.interval


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


class _Forwarder(logging.handlers.QueueHandler):
    """Puts records on MpLogger's queue, formatted where they were made (args may not pickle)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record = super().prepare(record)
        record.host = host_name()
        return record


class MpLogger:
    """One logging destination for a process and all the processes it starts.

    ``name`` names the consolidated file (and the main logger when
    ``start()`` gets none). Files go to ``logdir``: one per process key (the
    record's logger name, plus the record fields named in ``process_key``:
    ``"processName"`` gives ``<name>.<processName>.log``), and with
    ``consolidate`` one more, ``<name>.log``, with every record.
    ``file_prefix``/``file_suffix`` wrap each file's stem; ``file_mode="w"``
    starts the files afresh. With no ``logdir`` (or with ``console=True``)
    records are written to stderr. ``handler_kwargs`` go to
    :class:`TimedSizedRotatingHandler` (maxBytes, backupCount, when, ...).
    """

    def __init__(
        self,
        name: str | None = None,
        logging_level: int = logging.INFO,
        level_formats: dict | None = None,
        datefmt: str | None = None,
        consolidate: bool = False,
        process_key: Any = None,
        file_prefix: str | None = None,
        file_suffix: str | None = None,
        file_mode: str = "a",
        logdir: str | os.PathLike | None = None,
        console: bool = False,
        **handler_kwargs: Any,
    ) -> None:
        if file_mode not in ("a", "w"):
            raise ValueError(f"file_mode must be 'a' or 'w', not {file_mode!r}")
        unknown = set(handler_kwargs) - _HANDLER_OPTIONS
        if unknown:
            raise TypeError(f"MpLogger got unknown options {sorted(unknown)} (handler options: {sorted(_HANDLER_OPTIONS)})")
        self.name = name
        self.logging_level = logging_level
        self.formatter = LevelBasedFormatter(level_formats, datefmt)
        self.consolidate = consolidate
        keys = [process_key] if isinstance(process_key, str) else list(process_key or ())
        self.process_key = [key for key in keys if key != "name"]
        self.file_prefix = file_prefix or ""
        self.file_suffix = file_suffix or ""
        self.file_mode = file_mode
        self.logdir = os.fspath(logdir) if logdir is not None else None
        self.console = console or logdir is None
        self.handler_kwargs = handler_kwargs
        self._queue: Any = None
        self._listener: threading.Thread | None = None
        self._files: dict[str, logging.Handler] = {}
        self._console: logging.Handler | None = None

    # -- the main process ---------------------------------------------------------
    def start(self, name: str | None = None) -> logging.Logger:
        """Start the listener; the logger for this process (``name``, else MpLogger's name)."""
        if self._listener is not None:
            raise RuntimeError("MpLogger.start() was already called; stop() it first")
        self.name = self.name or name or "mplogger"
        if self.logdir is not None:
            os.makedirs(self.logdir, exist_ok=True)
        if self.console:
            self._console = logging.StreamHandler(sys.stderr)
            self._console.setFormatter(self.formatter)
        # a spawn-context queue: its semaphores stay named, so spawned children can open them too
        self._queue = multiprocessing.get_context("spawn").Queue()
        self._listener = threading.Thread(target=self._listen, name=f"MpLogger-{self.name}", daemon=True)
        self._listener.start()
        return self.get_logger(self.logger_info(), name or self.name)

    def logger_info(self) -> dict:
        """What a child process needs to log here: pass it to ``MpLogger.get_logger`` there."""
        if self._queue is None:
            raise RuntimeError("MpLogger.logger_info() before start()")
        return {"queue": self._queue, "name": self.name, "logging_level": self.logging_level}

    @staticmethod
    def get_logger(logger_info: dict, name: str | None = None) -> logging.Logger:
        """In any process: the logger ``name`` (default: MpLogger's name), sending to the listener."""
        logger = logging.getLogger(name or logger_info["name"])
        queue = logger_info["queue"]
        if not any(isinstance(h, _Forwarder) and h.queue is queue for h in logger.handlers):
            for handler in [h for h in logger.handlers if isinstance(h, _Forwarder)]:
                logger.removeHandler(handler)  # a stale MpLogger's, inherited through fork
            logger.addHandler(_Forwarder(queue))
        logger.setLevel(logger_info["logging_level"])
        logger.propagate = False
        return logger

    def stop(self) -> None:
        """Write every record sent so far, close the files. Children should have ended (or flushed) first."""
        if self._listener is None:
            return
        self._queue.put(None)
        self._listener.join()
        self._listener = None
        self._queue.close()
        self._queue.join_thread()
        self._queue = None
        for handler in self._files.values():
            handler.close()
        self._files.clear()
        if self._console is not None:
            self._console.flush()
            self._console = None

    def __enter__(self) -> MpLogger:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- the listener thread --------------------------------------------------------
    def _listen(self) -> None:
        while True:
            record = self._queue.get()
            if record is None:
                return
            try:
                self._dispatch(record)
            except Exception:  # say so, and keep serving the other records
                traceback.print_exc(file=sys.stderr)

    def _dispatch(self, record: logging.LogRecord) -> None:
        if self._console is not None:
            self._console.handle(record)
        if self.logdir is None:
            return
        targets = {self._file_for(self._key_of(record))}
        if self.consolidate:
            targets.add(self._file_for(self.name or "mplogger"))
        for handler in targets:
            handler.handle(record)

    def _key_of(self, record: logging.LogRecord) -> str:
        parts = [record.name, *(str(getattr(record, key, "")) for key in self.process_key)]
        return ".".join(part for part in parts if part)

    def _file_for(self, key: str) -> logging.Handler:
        handler = self._files.get(key)
        if handler is None:
            stem = f"{self.file_prefix}{_safe_file_part(key)}{self.file_suffix}.log"
            assert self.logdir is not None
            handler = TimedSizedRotatingHandler(
                os.path.join(self.logdir, stem), file_mode=self.file_mode, **self.handler_kwargs
            )
            handler.setFormatter(self.formatter)
            self._files[key] = handler
        return handler


_HANDLER_OPTIONS = {"maxBytes", "backupCount", "encoding", "delay", "when", "interval", "utc", "atTime"}


def _safe_file_part(key: str) -> str:
    """A logger name as a file name: path separators (``logging.getLogger(__file__)``) become ``_``."""
    return key.replace(os.sep, "_").replace("\0", "_").lstrip(".") or "root"
