"""The controller side of the agent: one remote interpreter, many calls in flight.

::

    caller threads / coroutines          this process                      remote python3 -I
    ---------------------------          ------------                      -----------------
    post(frame) --os.write (locked)-->   pipe -> machine's process  ---->  reader -> worker pool
    inbox.get() <--SimpleQueue/future--  reader thread  <---------------   send() from workers
                                         watch thread: stderr lines, PING <-> heartbeat thread

The agent process is started through the machine's generic process API
(``machine.aio.popen_command``) with OS pipes we create as its stdin, stdout
and stderr, which every machine accepts (local, OpenSSH, asyncssh, plink,
container exec). Owning the pipe ends lets the hot path skip the event loop
entirely: a caller writes its frame itself and waits on its own inbox, which
the reader thread fills. The agent's stderr (where the remote's own prints
land) is logged line by line to ``tether.remote.<host>``.

When the agent dies, every inbox receives the failure, so no caller waits
forever; it raises AgentError ``from`` the transport's error.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import os
import queue
import select
import sys
import threading
import time
import weakref
from typing import Any

from .. import codec
from ..exceptions import AgentError
from . import framing
from .bootstrap import loader, program
from .inbox import DEAD, AsyncInbox
from .logs import emit_output, emit_record, remote_logger

log = logging.getLogger(__name__)

DEFAULT_HEARTBEAT = 5.0
DEFAULT_THREADS = 32
DEFAULT_START_TIMEOUT = 30.0
_TERMINAL = {framing.RESULT, framing.ERROR, framing.END, framing.CLOSE}
_READ = 1 << 20


def _pipe() -> tuple[int, int]:
    """A pipe with room for 1 MiB where the OS allows: bulk data then moves in few wake-ups."""
    read_end, write_end = os.pipe()
    try:
        import fcntl

        fcntl.fcntl(write_end, getattr(fcntl, "F_SETPIPE_SZ", 1031), _READ)
    except OSError:  # over the system's pipe-max-size: the default size works too
        pass
    return read_end, write_end


_LIVE: weakref.WeakSet = weakref.WeakSet()  # every started connection, for the fork handler below


def _forget_after_fork() -> None:
    """In a forked child, the parent's agents are not ours: writing to them would corrupt the parent's frames."""
    for conn in list(_LIVE):
        conn._forked = True  # close() must not touch the parent's process either
        conn._failure = ("the agent belongs to the parent process (this one was forked)", None)
        conn._to_agent = None  # the fd copy is left alone: the parent still uses the pipe
        conn._inboxes = {}
        conn._write_lock = threading.Lock()
        conn._out_lock = threading.Lock()
        conn._fail_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)



def default_python(machine: Any) -> str:
    """The interpreter an agent runs when none is named: this one locally, ``python3`` elsewhere."""
    return sys.executable if machine.host is None else "python3"

class AgentConnection:
    """A Python interpreter on ``machine`` serving tether's frames. Start with ``await start()``.

    ``python`` is the interpreter to run (default: this one's path on the
    local machine, ``python3`` elsewhere); ``max_frame`` caps every frame
    both ways; ``heartbeat`` is the ping interval in seconds (either side
    gives up after three missed); ``threads`` caps the remote worker pool.
    Users hold :class:`tether.agent.Agent`, which wraps this.
    """

    def __init__(
        self,
        machine: Any,
        *,
        python: str | None = None,
        max_frame: int = framing.DEFAULT_MAX_FRAME,
        heartbeat: float = DEFAULT_HEARTBEAT,
        threads: int = DEFAULT_THREADS,
        start_timeout: float = DEFAULT_START_TIMEOUT,
    ) -> None:
        self.machine = machine
        self.host: str | None = machine.host
        self.python = python or default_python(machine)
        self.max_frame = max_frame
        self.heartbeat = heartbeat
        self.threads = threads
        self.start_timeout = start_timeout
        self.pid: int | None = None  # the remote interpreter's pid, from the handshake
        self.python_version: str | None = None
        self.logger = remote_logger(self.host)
        self._ids = itertools.count(1)
        self._inboxes: dict[int, Any] = {}
        self._write_lock = threading.Lock()
        self._out_lock = threading.Lock()
        self._outbox: list[bytes] = []
        self._flush_scheduled = False
        self._fail_lock = threading.Lock()
        self._to_agent: int | None = None  # our end of its stdin
        self._job: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failure: tuple[str, BaseException | None] | None = None
        self._last_seen = 0.0
        self._closing = False
        self._forked = False  # True in a forked child: the agent is the parent's
        self._stderr_tail: collections.deque = collections.deque(maxlen=10)
        self._stopped = threading.Event()  # the reader has finished: the agent's stdout is closed
        self._watched = threading.Event()  # the watcher has finished: its stderr is closed

    def __repr__(self) -> str:
        state = "dead" if self._failure else ("running" if self.pid else "unstarted")
        return f"<AgentConnection {self.host or 'local'} pid={self.pid} {state}>"

    @property
    def alive(self) -> bool:
        return self.pid is not None and self._failure is None

    # -- start ---------------------------------------------------------------------
    def _command(self) -> Any:
        config = {"max_frame": self.max_frame, "heartbeat": self.heartbeat, "threads": self.threads,
                  "log_level": self.logger.getEffectiveLevel()}
        return self.machine._checked_command(self.python)["-I", "-c", loader(config)]

    async def start(self) -> None:
        """Start the interpreter, send the program, wait for READY (AgentError if it never comes)."""
        self._loop = asyncio.get_running_loop()
        cmd = await asyncio.to_thread(self._command)  # resolving a remote name is a round trip
        stdin_r, stdin_w = _pipe()
        stdout_r, stdout_w = _pipe()
        stderr_r, stderr_w = os.pipe()
        try:
            self._job = await self.machine.popen_command(cmd, stdin=stdin_r, stdout=stdout_w, stderr=stderr_w)
        except BaseException:
            for fd in (stdin_w, stdout_r, stderr_r):
                os.close(fd)
            raise
        finally:
            for fd in (stdin_r, stdout_w, stderr_w):  # the process has its own copies now
                os.close(fd)
        self._to_agent = stdin_w
        _LIVE.add(self)
        ready: asyncio.Future = self._loop.create_future()
        # if writing the program fails first, nobody awaits ready: its EOFError is still "seen"
        ready.add_done_callback(lambda f: f.cancelled() or f.exception())
        threading.Thread(target=self._read, args=(stdout_r, ready), name="tether-agent-reader", daemon=True).start()
        threading.Thread(target=self._watch, args=(stderr_r,), name="tether-agent-watch", daemon=True).start()
        try:
            await asyncio.to_thread(self._write, program())
            version, self.pid, self.python_version = await asyncio.wait_for(ready, self.start_timeout)
            if version != framing.PROTOCOL_VERSION:
                raise AgentError(f"the agent speaks protocol {version}, we speak {framing.PROTOCOL_VERSION}")
        except (OSError, EOFError, asyncio.TimeoutError, AgentError) as exc:
            await self._kill()
            await asyncio.to_thread(self._watched.wait, 5)  # its last stderr lines, for the message
            tail = " | ".join(self._stderr_tail)
            detail = f": {exc}" if str(exc) else f" ({type(exc).__name__})"
            message = f"the agent ({self.python} -I) did not start{detail}" + (f"; its stderr: {tail}" if tail else "")
            self._fail(message, exc)
            raise AgentError(message, self.host) from exc
        log.debug("[%s] agent started: pid %s, Python %s", self.host or "local", self.pid, self.python_version)

    # -- output: callers write their own frames ----------------------------------------
    def open_inbox(self, blocking: bool) -> tuple[int, Any]:
        """A new request id and the queue its replies will arrive in."""
        self.check_alive()
        ident = next(self._ids) & 0xFFFFFFFF
        inbox: Any = queue.SimpleQueue() if blocking else AsyncInbox()
        self._inboxes[ident] = inbox
        if self._failure is not None:  # it died between the check and now
            inbox.put_nowait((DEAD, self._failure))
        return ident, inbox

    def drop_inbox(self, ident: int) -> None:
        self._inboxes.pop(ident, None)

    def post(self, kind: int, ident: int, value: Any) -> None:
        """Send a frame to the agent, from any thread (encoded here; FrameTooLarge refuses it)."""
        self.post_raw(kind, ident, codec.encode(value))

    def post_raw(self, kind: int, ident: int, payload: Any, defer: bool = False) -> None:
        """Queue one frame and write it now; ``defer`` (coroutines only): at the end of this loop turn.

        Deferred frames from one turn of the event loop go out in ONE write,
        which is what makes many calls in flight (``asyncio.gather``) cheap.
        Every frame passes through the same outbox, so order is kept.
        """
        frame = framing.pack(kind, ident, payload, self.max_frame)
        self.check_alive()
        with self._out_lock:
            self._outbox.append(frame)
            if defer:
                if self._flush_scheduled:
                    return
                self._flush_scheduled = True
        if defer:
            asyncio.get_running_loop().call_soon(self._flush)
        else:
            self._flush()
            self.check_alive()

    def post_soon(self, kind: int, ident: int, payload: bytes) -> None:
        """Queue a small frame for the next write, never blocking (safe in ``__del__``); best effort."""
        if self._failure is not None or not self._out_lock.acquire(blocking=False):
            return
        try:
            self._outbox.append(framing.pack(kind, ident, payload, self.max_frame))
        finally:
            self._out_lock.release()

    def _flush(self) -> None:
        try:
            with self._write_lock:  # taken before the outbox: batches leave in the order queued
                with self._out_lock:
                    frames, self._outbox = self._outbox, []
                    self._flush_scheduled = False
                if frames:
                    self._write_locked(frames[0] if len(frames) == 1 else b"".join(frames))
        except OSError as exc:
            self._fail("the pipe to the agent broke", exc)

    def _write(self, data: bytes) -> None:
        with self._write_lock:
            self._write_locked(data)

    def _write_locked(self, data: bytes) -> None:
        """Write all of ``data`` (the caller holds the write lock: frames go out whole)."""
        fd = self._to_agent
        if fd is None:
            raise BrokenPipeError("the agent's stdin is closed")
        sent = os.write(fd, data)
        if sent < len(data):  # a big frame: the pipe takes it in pieces
            view = memoryview(data)
            while sent < len(view):
                sent += os.write(fd, view[sent:])

    # -- input: the reader thread -----------------------------------------------------
    def _read(self, fd: int, ready: asyncio.Future) -> None:
        try:
            try:
                rest = self._handshake(fd)
            except (OSError, EOFError, AgentError) as exc:
                self._resolve(ready, exc)
                return
            self._resolve(ready, None, self._ready)
            self._serve(fd, rest)
        finally:
            os.close(fd)
            self._stopped.set()

    def _handshake(self, fd: int) -> bytes:
        """Read up to the READY line (skipping a login shell's noise); the bytes after it."""
        buffer = b""
        while True:
            line, newline, rest = buffer.partition(b"\n")
            if newline:
                found = framing.parse_ready(line + newline)
                if found is not None:
                    self._ready = found
                    return rest
                buffer = rest
                continue
            if len(buffer) > framing.MAX_PREAMBLE:
                raise AgentError(f"no READY line in the first {framing.MAX_PREAMBLE} bytes of output")
            chunk = os.read(fd, _READ)
            if not chunk:
                raise EOFError("the interpreter exited before it was ready")
            buffer += chunk

    def _serve(self, fd: int, data: bytes) -> None:
        decoder = framing.FrameDecoder(self.max_frame)
        inboxes = self._inboxes
        try:
            while True:
                self._last_seen = time.monotonic()
                to_loops: dict[asyncio.AbstractEventLoop, list] = {}
                for kind, ident, payload in decoder.feed(data):
                    if kind == framing.LOG:
                        emit_record(self.logger, payload)
                        continue
                    inbox = inboxes.get(ident)
                    if inbox is None:
                        continue  # a ping, or a reply nobody waits for any more
                    if kind in _TERMINAL:
                        inboxes.pop(ident, None)
                    if type(inbox) is AsyncInbox:
                        to_loops.setdefault(inbox.loop, []).append((inbox, (kind, payload)))
                    else:
                        inbox.put_nowait((kind, payload))
                for loop, deliveries in to_loops.items():
                    AsyncInbox.deliver_all(loop, deliveries)
                data = os.read(fd, _READ)
                if not data:
                    break
        except Exception as exc:  # FrameTooLarge, a reset pipe: the stream is lost
            self._fail("the agent's output could not be read", exc)
            return
        if not self._closing:
            code = self._exit_code_blocking()
            self._fail(f"the agent exited (exit code {code})", EOFError("the agent's stdout closed"))

    def _resolve(self, future: asyncio.Future, error: BaseException | None, value: Any = None) -> None:
        def settle() -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)

        assert self._loop is not None
        self._loop.call_soon_threadsafe(settle)

    # -- the watch thread: stderr lines and the heartbeat ------------------------------------
    def _watch(self, fd: int) -> None:
        """The remote's stderr (its prints too) to tether.remote.<host>; PING the agent; notice silence."""
        pending = b""
        next_ping = time.monotonic() + self.heartbeat
        try:
            while True:
                now = time.monotonic()
                readable, _, _ = select.select([fd], [], [], max(0.0, next_ping - now))
                if readable:
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        break
                    *lines, pending = (pending + chunk).split(b"\n")
                    for line in lines:
                        text = line.decode("utf-8", "replace")
                        self._stderr_tail.append(text)
                        emit_output(self.logger, text)
                if time.monotonic() >= next_ping and self.pid is not None and self._failure is None:
                    next_ping = time.monotonic() + self.heartbeat
                    if time.monotonic() - self._last_seen > 3 * self.heartbeat:
                        self._fail(f"no heartbeat from the agent for {3 * self.heartbeat:g} s", TimeoutError("heartbeat"))
                        self._kill_blocking()
                        continue
                    try:
                        self.post_raw(framing.PING, 0, b"N")
                    except AgentError:
                        pass
        finally:
            if pending:
                self._stderr_tail.append(pending.decode("utf-8", "replace"))
            os.close(fd)
            self._watched.set()

    # -- failure and close ---------------------------------------------------------
    def check_alive(self) -> None:
        if self._failure is not None:
            message, cause = self._failure
            raise AgentError(message, self.host) from cause
        if self._to_agent is None:
            raise AgentError("the agent is not started", self.host)

    def _fail(self, message: str, cause: BaseException | None) -> None:
        """Mark the agent dead, close its stdin and wake every waiting caller with the reason."""
        with self._fail_lock:
            if self._failure is not None:
                return
            self._failure = (message, cause)
        log.debug("[%s] agent failed: %s (%r)", self.host or "local", message, cause)
        inboxes, self._inboxes = self._inboxes, {}
        # a snapshot (taken under the GIL): a caller that read the old dict may still add or drop an
        # inbox in it from another thread; one added late sees _failure itself (open_inbox)
        for inbox in list(inboxes.values()):
            inbox.put_nowait((DEAD, self._failure))
        with self._write_lock:  # EOF on its stdin tells the agent to go
            fd, self._to_agent = self._to_agent, None
            if fd is not None:
                os.close(fd)

    def _exit_code_blocking(self) -> int | None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return None
        try:
            return asyncio.run_coroutine_threadsafe(self._exit_code(), loop).result(5)
        except Exception:  # the loop stopped, or the process is slow to go
            return None

    async def _exit_code(self) -> int | None:
        try:
            return await asyncio.wait_for(self._job.wait(), 2)
        except asyncio.TimeoutError:
            return None

    def _kill_blocking(self) -> None:
        job = self._job
        if job is not None and job.returncode is None:
            try:
                job.kill()
            except Exception:  # the connection may be gone too
                pass

    async def _kill(self) -> None:
        if self._job is not None and self._job.returncode is None:
            await asyncio.to_thread(self._kill_blocking)
            await self._exit_code()

    def _announce_exit(self) -> None:
        """Tell the agent to exit (if it still listens) and fail every call still waiting."""
        self._closing = True
        try:
            self.post_raw(framing.EXIT, 0, b"N")
        except AgentError:
            pass
        self._fail("the agent was closed", None)

    def _close_without_loop(self) -> None:
        """close() for an agent whose event loop has ended: EXIT, EOF, then reap its processes here."""
        self._announce_exit()
        if not self._stopped.wait(5):
            self._kill_blocking()
        for proc in getattr(self._job, "procs", ()):
            popen = getattr(proc, "_popen", None)  # a local process handle: reaped here, its loop being gone
            if popen is not None:
                try:
                    popen.wait(5)
                except Exception:  # still running after the kill: the OS reaps it with us
                    pass

    async def close(self) -> None:
        """Ask the agent to exit, close its stdin, and wait for it (killed after 5 s)."""
        loop = self._loop
        if self._job is None or self._closing or loop is None or self._forked:
            return
        if loop is not asyncio.get_running_loop():  # started on another loop: its process lives there
            if loop.is_running():
                await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.close(), loop))
            else:  # that loop has ended: finish without it
                await asyncio.to_thread(self._close_without_loop)
            return
        self._announce_exit()
        try:
            await asyncio.wait_for(self._job.wait(), 5)
        except asyncio.TimeoutError:
            await self._kill()
        await asyncio.to_thread(self._stopped.wait, 5)
