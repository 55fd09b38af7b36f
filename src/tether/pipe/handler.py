"""``PipeHandler``: the remote end of an :class:`~tether.pipe.SshPipe`.

::

    from tether.pipe import PipeHandler

    class Writer(PipeHandler):
        def atstart(self, received):            # before the first message is handled
            self.file = open("/tmp/received", "w")
        def handle(self, received):             # every message but the term message
            self.file.write(str(received))
        def atexit(self, received):             # always, last (received: the term message, or None)
            self.file.close()

    if __name__ == "__main__":
        Writer().service_loop()

The handler's stdin carries the caller's frames; its stdout is taken over
for the frames it sends back (ready, log records, exit), and whatever the
program itself prints to stdout travels inside ``out`` frames, so ``print``
cannot corrupt the stream. Exit codes say what failed, with the traceback
on stderr:

    0  a term message arrived (or the caller closed the pipe)
    3  EXIT_UNREADABLE   more unreadable messages than ``tolerance`` allows
    4  EXIT_ATSTART      atstart() raised
    5  EXIT_HANDLE       handle() raised
    6  EXIT_ATEXIT       atexit() raised (when nothing failed before it)

No signal handlers are installed: when the connection drops, stdin ends and
the handler runs ``atexit`` and exits.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
from typing import Any

from ..codec import CodecError, decode
from ..execution.session import write_all
from ..logs import LevelBasedFormatter, TimedSizedRotatingHandler, host_name
from .frames import EXIT, LOG, OUT, READY, FrameReader, frame, record_fields

__all__ = ["EXIT_ATEXIT", "EXIT_ATSTART", "EXIT_HANDLE", "EXIT_OK", "EXIT_UNREADABLE", "TERM_MESSAGES", "PipeHandler"]

EXIT_OK, EXIT_UNREADABLE, EXIT_ATSTART, EXIT_HANDLE, EXIT_ATEXIT = 0, 3, 4, 5, 6
TERM_MESSAGES = ("TERM", "STOP", "FINISH", "EXIT", "QUIT")
_CHUNK = 1 << 16


class _Channel:
    """The handler's side of the stream: frames out on the real stdout, the program's stdout forwarded."""

    def __init__(self) -> None:
        sys.stdout.flush()
        self._fd = os.dup(1)  # the frames' own descriptor
        read_fd, write_fd = os.pipe()
        os.dup2(write_fd, 1)  # print() and child processes now write into the pipe
        os.close(write_fd)
        self._lock = threading.Lock()
        self._pump = threading.Thread(target=self._forward_stdout, args=(read_fd,), name="pipe-stdout", daemon=True)
        self._pump.start()

    def send(self, value: Any) -> None:
        data = frame(value)
        with self._lock:  # log records come from any thread: frames never interleave
            write_all(self._fd, data)

    def _forward_stdout(self, fd: int) -> None:
        try:
            while chunk := os.read(fd, _CHUNK):
                self.send((OUT, chunk))
        except OSError:
            pass  # the caller is gone: nothing more to forward to
        finally:
            os.close(fd)

    def finish(self, code: int, error: str) -> None:
        """Forward the last of stdout, report the exit, release the stream."""
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)  # drops our write end of the stdout pipe: the pump sees its end
        os.close(null)
        self._pump.join(5)  # a child still holding the pipe open is not waited for longer
        try:
            self.send((EXIT, {"code": code, "error": error}))
        except OSError:
            pass
        os.close(self._fd)


class _LogForwarder(logging.Handler):
    """Sends each log record to the caller as a ``log`` frame."""

    def __init__(self, channel: _Channel) -> None:
        super().__init__()
        self._channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._channel.send((LOG, record_fields(record, host_name())))
        except Exception:
            self.handleError(record)


class PipeHandler:
    """Serve the messages of an SshPipe: override ``atstart``, ``handle`` and ``atexit``.

    ``term_messages``: the strings that end the loop (default TERM, STOP,
    FINISH, EXIT, QUIT). ``tolerance``: how many unreadable messages to skip
    before giving up (0: none, -1: all). ``log_file``: also write this
    handler's log records there (rotating: ``log_file_options`` go to
    :class:`~tether.logs.TimedSizedRotatingHandler`); they are forwarded to
    the caller either way. ``logger`` (default ``tether.pipe.handler``) is
    ``self.module_logger``, the logger whose records travel.
    """

    def __init__(
        self,
        handler_id: str | None = None,
        term_messages: Any = None,
        tolerance: int = 0,
        log_file: str | os.PathLike | None = None,
        logging_level: int = logging.DEBUG,
        logger: logging.Logger | None = None,
        **log_file_options: Any,
    ) -> None:
        if not isinstance(tolerance, int) or tolerance < -1:
            raise ValueError(f"tolerance is a count of unreadable messages to skip, or -1 for all; got {tolerance!r}")
        self.handler_id = handler_id or f"pipe_handler_{os.getpid()}"
        self.term_messages = tuple(term_messages) if term_messages is not None else TERM_MESSAGES
        self.tolerance = tolerance
        self.log_file = os.fspath(log_file) if log_file is not None else None
        self.log_file_options = log_file_options
        self.module_logger = logger if logger is not None else logging.getLogger("tether.pipe.handler")
        self.module_logger.setLevel(logging_level)

    # -- what subclasses override -------------------------------------------------------
    def atstart(self, received: Any) -> None:
        """Called once, with the first message, before it is handled."""
        self.module_logger.debug("atstart: first message %.80r", received)

    def handle(self, received: Any) -> None:
        """Called with every message that is not a term message."""
        self.module_logger.debug("handle: %.80r", received)

    def atexit(self, received: Any) -> None:
        """Called last, always: with the term message, the failing message, or None at end of input."""
        self.module_logger.debug("atexit: %.80r", received)

    # -- the loop -------------------------------------------------------------------------
    def service_loop(self) -> int:
        """Serve messages until a term message or the end of input; exit with a failure's code.

        Returns 0 when all went well; otherwise raises ``SystemExit(code)``
        after the traceback is written to stderr.
        """
        channel = _Channel()
        handlers: list[logging.Handler] = [_LogForwarder(channel)]
        if self.log_file is not None:
            to_file = TimedSizedRotatingHandler(self.log_file, **self.log_file_options)
            to_file.setFormatter(LevelBasedFormatter())
            handlers.append(to_file)
        for log_handler in handlers:
            self.module_logger.addHandler(log_handler)
        try:
            channel.send((READY, {"pid": os.getpid(), "python": sys.version.split()[0]}))
            code, error = self._serve()
            self.module_logger.debug("%s: loop ended with exit code %d", self.handler_id, code)
        finally:
            for log_handler in handlers:
                self.module_logger.removeHandler(log_handler)
                log_handler.close()
        if error:
            sys.stderr.write(error)
            sys.stderr.flush()
        channel.finish(code, error)
        if code:
            raise SystemExit(code)
        return code

    def _serve(self) -> tuple[int, str]:
        code, error, last = EXIT_OK, "", None
        try:
            code, error, last = self._dispatch_messages()
        finally:
            try:
                self.atexit(last)
            except Exception:
                if not code:
                    code = EXIT_ATEXIT
                error += _failure("atexit", last)
        return code, error

    def _dispatch_messages(self) -> tuple[int, str, Any]:
        """Read and dispatch until the end: ``(exit code, error text, the last message)``."""
        reader, started, unreadable = FrameReader(), False, 0
        while chunk := os.read(0, _CHUNK):
            reader.feed(chunk)
            payloads = reader.payloads()
            while True:
                try:
                    payload = next(payloads, None)
                except CodecError:  # the stream itself is broken: no later frame can be found
                    return EXIT_UNREADABLE, _failure("reading the input stream", None), None
                if payload is None:
                    break
                try:
                    message = decode(payload)
                except CodecError:
                    unreadable += 1
                    self.module_logger.warning("%s: unreadable message %d skipped", self.handler_id, unreadable)
                    if 0 <= self.tolerance < unreadable:
                        return EXIT_UNREADABLE, _failure(f"decoding message {unreadable}", None), None
                    continue
                if not started:
                    started = True
                    try:
                        self.atstart(message)
                    except Exception:
                        return EXIT_ATSTART, _failure("atstart", message), message
                if isinstance(message, str) and message in self.term_messages:
                    return EXIT_OK, "", message
                try:
                    self.handle(message)
                except Exception:
                    return EXIT_HANDLE, _failure("handle", message), message
        if reader.pending:
            self.module_logger.warning("%s: input ended inside a message (%d bytes)", self.handler_id, reader.pending)
        return EXIT_OK, "", None


def _failure(where: str, message: Any) -> str:
    shown = "" if message is None else f" (message: {message!r:.200})"
    return f"tether.pipe handler failed in {where}{shown}:\n{traceback.format_exc()}"
