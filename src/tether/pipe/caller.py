"""``SshPipe``: start a :class:`~tether.pipe.PipeHandler` program on a machine and feed it messages.

::

    pipe = SshPipe("host", "/opt/venv/bin/python /opt/agent/handler.py", user="john")
    pipe.start()                      # returns once the handler says it is listening
    pipe.send({"job": 1, "args": [1, 2, 3]})
    exitcode, stdout, stderr = pipe.close()   # sends the term message, waits

    local ──frames──> ssh (or any tether machine) ──> handler's stdin
    local <──frames── ready / log records / stdout / exit  <── handler's stdout

Messages are any value :mod:`tether.codec` carries (never a pickle). Two
threads of this process read the handler's output: log records are handed
to ``logger`` (or to the logger of the record's name), and ``callback``
runs on one of them when the handler ends. No signal handler is installed.
"""

from __future__ import annotations

import logging
import os
import shlex
import threading
from collections.abc import Callable, Sequence
from typing import Any

from ..codec import CodecError
from ..exceptions import ClosedError, PipeError, PipeStartTimeout
from ..execution.session import write_all
from .frames import EXIT, LOG, OUT, READY, FrameReader, frame, reply

__all__ = ["SshPipe"]

_log = logging.getLogger("tether.pipe")
_CHUNK = 1 << 16
DEFAULT_START_TIMEOUT = 60.0


class SshPipe:
    """A message pipe to a handler program run with ``command`` on ``host``.

    ``command`` is a program and its arguments, as a list or as one string
    split like a shell would (every word is quoted again for the remote
    shell). ``host``, ``user`` and ``config`` (an ssh_config file) make an
    :class:`~tether.SshMachine`, opened by ``start()`` and closed by
    ``close()``; ``machine=`` rides on a machine you hold instead (any tether
    machine, local included), which the pipe leaves open. ``name`` labels
    the pipe in logs and errors; ``term_message`` is what ``close()`` sends;
    ``encoding`` decodes the handler's stdout and stderr.
    """

    def __init__(
        self,
        host: str | None,
        command: str | Sequence[str],
        name: str | None = None,
        user: str | None = None,
        term_message: Any = "TERM",
        config: Any = None,
        encoding: str = "utf8",
        callback: Callable[[int, str, str], Any] | None = None,
        logger: logging.Logger | None = None,
        machine: Any = None,
    ) -> None:
        if host is None and machine is None:
            raise ValueError("SshPipe needs a host (or machine=)")
        self.argv = shlex.split(command) if isinstance(command, str) else [str(word) for word in command]
        if not self.argv:
            raise ValueError("SshPipe needs a command to run")
        self.host = host if host is not None else getattr(machine, "host", None)
        self.name = name or f"{self.host or 'local'}:{self.argv[-1]}"
        self.user = user
        self.term_message = term_message
        self.config = config
        self.encoding = encoding
        self.callback = callback
        self.logger = logger
        self._machine = machine
        self._owns_machine = machine is None
        self._state = "unopened"
        self._process: Any = None
        self._stdin_fd: int | None = None
        self._stdout_fd = self._stderr_fd = -1
        self._write_lock = threading.Lock()
        self._ready = threading.Event()
        self._settled = threading.Event()  # ready, or ended before it could be
        self._ended = threading.Event()  # the handler reported its exit, or its output ended
        self._done = threading.Event()  # the process is reaped and the result is known
        self._stdout: list[bytes] = []
        self._stderr: list[bytes] = []
        self._reported: dict = {}
        self._trouble = ""  # what went wrong on our side of the stream, for stderr
        self._result: tuple[int, str, str] | None = None
        self._threads: list[threading.Thread] = []

    def __repr__(self) -> str:
        return f"<SshPipe {self.name!r} {self._state}>"

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout: float | None = DEFAULT_START_TIMEOUT) -> None:
        """Run the handler; return once it reports ready, or has ended (see ``is_alive()``).

        :class:`~tether.exceptions.PipeStartTimeout` if it does neither within
        ``timeout`` seconds (the remote command is then stopped).
        """
        if self._state == "closed":
            raise ClosedError(f"{self!r} was closed; make a new SshPipe")
        if self._state == "started":
            return
        machine = self._open_machine()
        # plain OS pipes on our side: a message is one os.write, no hop through tether's loop
        ends = [os.pipe() for _ in range(3)]
        self._stdin_fd, self._stdout_fd, self._stderr_fd = ends[0][1], ends[1][0], ends[2][0]
        try:
            program = machine[self.argv[0]]
            command = program[self.argv[1:]] if len(self.argv) > 1 else program
            self._process = command.popen(stdin=ends[0][0], stdout=ends[1][1], stderr=ends[2][1])
        except BaseException:
            for end in (fd for pair in ends for fd in pair):
                os.close(end)
            self._close_machine()
            raise
        finally:
            if self._process is not None:  # the far ends belong to the process now
                for end in (ends[0][0], ends[1][1], ends[2][1]):
                    os.close(end)
        self._state = "started"
        self._threads = [
            threading.Thread(target=target, name=f"SshPipe-{self.name}-{label}", daemon=True)
            for target, label in ((self._read_frames, "frames"), (self._read_stderr, "stderr"))
        ]
        for thread in self._threads:  # all made before any starts: the frames thread joins the other
            thread.start()
        if not self._settled.wait(timeout):
            self._stop_process()
            self.close(timeout=10)
            raise PipeStartTimeout(f"the handler of pipe {self.name!r} did not report ready within {timeout} s", self.name)
        self._debug("started: %s", "ready" if self._ready.is_set() else "ended at once")

    def is_alive(self) -> bool:
        """True while the handler runs; False from the moment it reports its exit (or its output ends)."""
        return self._state == "started" and not self._ended.is_set()

    def send(self, msg: Any) -> None:
        """Send one message (any value :mod:`tether.codec` carries) to the handler."""
        data = frame(msg)  # CodecError here, before any byte is written
        if self._state != "started":
            raise ClosedError(f"{self!r}: send() needs start() first" if self._state == "unopened" else f"{self!r} is closed")
        if self._ended.is_set():
            raise self._gone("has ended")
        try:
            with self._write_lock:
                if self._stdin_fd is None:
                    raise ValueError("stdin is closed")
                write_all(self._stdin_fd, data)
        except (OSError, ValueError) as exc:
            raise self._gone("stopped reading") from exc

    def response(self, timeout: float | None = None) -> tuple[int, str, str] | None:
        """``(exitcode, stdout, stderr)`` once the handler has ended; None if it still runs after ``timeout``."""
        if self._state == "unopened":
            return None
        self._done.wait(timeout)
        return self._result

    def close(self, msg: Any = None, timeout: float | None = None) -> tuple[int, str, str] | None:
        """Send the term message (``msg``, default ``term_message``), wait for the end; the response.

        With ``timeout``, a handler still running after that many seconds is
        stopped. The machine the pipe opened is closed.
        """
        if self._state == "started":
            if self.is_alive():
                try:
                    self.send(self.term_message if msg is None else msg)
                except PipeError:
                    pass  # it ended meanwhile
            self._close_stdin()
            if not self._done.wait(timeout):
                self._stop_process()
                self._done.wait()
            for thread in self._threads:
                if thread is not threading.current_thread():  # close() from the callback
                    thread.join()
        self._state = "closed"
        self._close_machine()
        return self._result

    def join(self, timeout: float | None = None) -> None:
        """Wait for the handler to end (at most ``timeout`` seconds)."""
        self._done.wait(timeout)

    def __enter__(self) -> SshPipe:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- the machine -------------------------------------------------------------------------
    def _open_machine(self) -> Any:
        if self._machine is None:
            from ..machines.ssh import SshMachine

            assert self.host is not None
            self._machine = SshMachine(self.host, user=self.user, ssh_config=self.config)
        return self._machine

    def _close_machine(self) -> None:
        with self._write_lock:  # the frames thread and close() may both get here
            machine = self._machine if self._owns_machine else None
            if machine is not None:
                self._machine = None
        if machine is not None:
            machine.close()

    # -- the reading threads -----------------------------------------------------------------
    def _read_frames(self) -> None:
        reader = FrameReader()
        try:
            while chunk := os.read(self._stdout_fd, _CHUNK):
                reader.feed(chunk)
                for payload in reader.payloads():
                    self._on_frame(*reply(payload))
        except CodecError as exc:  # not our handler speaking: stop it rather than guess
            self._trouble = f"tether.pipe: the remote command does not speak the pipe protocol: {exc}\n"
            self._stop_process()
        except Exception as exc:
            self._trouble = f"tether.pipe: reading the handler's output failed: {exc!r}\n"
            self._stop_process()
        finally:
            os.close(self._stdout_fd)
            self._ended.set()
            self._finish()
            self._settled.set()

    def _on_frame(self, kind: str, data: Any) -> None:
        if kind == OUT and isinstance(data, bytes):
            self._stdout.append(data)
        elif kind == LOG and isinstance(data, dict):
            self._forward_log(data)
        elif kind == READY:
            self._ready.set()
            self._settled.set()
        elif kind == EXIT:
            self._reported = data if isinstance(data, dict) else {}
            self._ended.set()
            self._settled.set()

    def _forward_log(self, fields: dict) -> None:
        fields = {**fields, "args": None, "exc_info": None, "pipe": self.name}
        record = logging.makeLogRecord(fields)
        target = self.logger if self.logger is not None else logging.getLogger(record.name)
        if target.isEnabledFor(record.levelno):
            target.handle(record)

    def _read_stderr(self) -> None:
        try:
            while chunk := os.read(self._stderr_fd, _CHUNK):
                self._stderr.append(chunk)
        except OSError:
            pass
        finally:
            os.close(self._stderr_fd)

    def _finish(self) -> None:
        """Reap the process, build the result, call back (on the frames thread)."""
        try:
            code = self._process.wait()
        except Exception:
            code = self._reported.get("code", 255)
        self._threads[-1].join()  # stderr: complete before the result is
        self._close_stdin()  # nobody reads it any more
        stdout = b"".join(self._stdout).decode(self.encoding, "replace")
        stderr = b"".join(self._stderr).decode(self.encoding, "replace") + self._trouble
        self._result = (code, stdout, stderr)
        self._close_machine()  # nothing more will run there: no ssh connection outlives the handler
        self._done.set()
        self._debug("ended with exit code %s", code)
        if self.callback is not None:
            try:
                self.callback(code, stdout, stderr)
            except Exception:
                (self.logger or _log).exception("SshPipe %r: callback failed", self.name)

    # -- helpers -------------------------------------------------------------------------------
    def _gone(self, what: str) -> PipeError:
        result = self.response(timeout=5)
        code, stderr = (result[0], result[2]) if result else (self._reported.get("code"), "")
        return PipeError(f"the handler of pipe {self.name!r} {what}", self.name, code, stderr)

    def _close_stdin(self) -> None:
        with self._write_lock:
            fd, self._stdin_fd = self._stdin_fd, None
        if fd is not None:
            os.close(fd)

    def _stop_process(self) -> None:
        try:
            self._process.kill()
        except Exception:
            pass

    def _debug(self, text: str, *args: Any) -> None:
        (self.logger or _log).debug("SshPipe %r: " + text, self.name, *args)
