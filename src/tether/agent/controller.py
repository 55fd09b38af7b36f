"""The controller side of the agent: one remote interpreter, many calls in flight.

::

    caller threads / coroutines                 tether's loop               remote python3 -I
    ---------------------------                 -------------               -----------------
    post(frame) --(outbox, one wakeup)-->       stdin.write  ---frames--->  reader -> worker pool
    inbox.get()  <--(SimpleQueue / Queue)--     reader task  <--frames----  send() from workers
                                                heartbeat    <--PING----->  heartbeat thread

The agent process is started through the machine's generic process API
(``machine.aio.popen_command``), so any machine that can run a command can
host an agent: local, OpenSSH, asyncssh, plink, container exec. Frames go
on its stdin/stdout; its stderr (where the remote's own prints land) is
logged line by line to ``tether.remote.<host>``.

Every request gets an id; replies are routed to that id's *inbox*: a
``queue.SimpleQueue`` for a blocking caller (woken straight from the loop
thread, no extra hop) or an ``asyncio.Queue`` for a coroutine. When the
agent dies, every inbox receives the failure, so no caller waits forever.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import sys
import threading
from typing import Any

from .. import codec
from ..exceptions import AgentError
from ..transports.base import PIPE
from . import framing
from .bootstrap import loader, program

log = logging.getLogger(__name__)

DEFAULT_HEARTBEAT = 5.0
DEFAULT_THREADS = 32
DEFAULT_START_TIMEOUT = 30.0
DEAD = -1  # inbox item kind: the agent is gone; payload is (message, cause)
_TERMINAL = {framing.RESULT, framing.ERROR, framing.END, framing.CLOSE}


class AsyncInbox:
    """An asyncio.Queue that the agent's loop may feed even when its reader runs on another loop."""

    def __init__(self, agent_loop: asyncio.AbstractEventLoop | None) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue = asyncio.Queue()
        self._same_loop = agent_loop is self.loop

    def put_nowait(self, item: Any) -> None:
        if self._same_loop:
            self.queue.put_nowait(item)
        else:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)

    async def get(self) -> Any:
        return await self.queue.get()


def remote_logger(host: str | None) -> logging.Logger:
    return logging.getLogger(f"tether.remote.{host or 'local'}")


class AgentConnection:
    """A Python interpreter on ``machine`` serving tether's frames. Start with ``await start()``; users hold :class:`tether.agent.Agent`.

    ``python`` is the interpreter to run (default: this one's path on the
    local machine, ``python3`` elsewhere); ``max_frame`` caps every frame
    both ways; ``heartbeat`` is the ping interval in seconds (either side
    gives up after three missed); ``threads`` caps the remote worker pool.
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
        self.python = python or (sys.executable if machine.host is None else "python3")
        self.max_frame = max_frame
        self.heartbeat = heartbeat
        self.threads = threads
        self.start_timeout = start_timeout
        self.pid: int | None = None  # the remote interpreter's pid, from the handshake
        self.python_version: str | None = None
        self.logger = remote_logger(self.host)
        self._ids = itertools.count(1)
        self._inboxes: dict[int, Any] = {}
        self._outbox: list[bytes] = []
        self._out_lock = threading.Lock()
        self._flush_pending = False
        self._job: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task] = []
        self._failure: tuple[str, BaseException | None] | None = None
        self._last_seen = 0.0
        self._closing = False

    def __repr__(self) -> str:
        state = "dead" if self._failure else ("running" if self.pid else "unstarted")
        return f"<AgentConnection {self.host or 'local'} pid={self.pid} {state}>"

    @property
    def alive(self) -> bool:
        return self._job is not None and self._failure is None

    # -- start ---------------------------------------------------------------------
    def _command(self) -> Any:
        config = {"max_frame": self.max_frame, "heartbeat": self.heartbeat, "threads": self.threads,
                  "log_level": self.logger.getEffectiveLevel()}
        return self.machine[self.python]["-I", "-c", loader(config)]

    async def start(self) -> None:
        """Start the interpreter, send the program, wait for READY (AgentError if it never comes)."""
        self._loop = asyncio.get_running_loop()
        cmd = await asyncio.to_thread(self._command)  # resolving a remote name is a round trip
        self._job = job = await self.machine.popen_command(cmd, stdin=PIPE, stdout=PIPE, stderr=PIPE)
        errors: list[bytes] = []
        self._tasks.append(asyncio.ensure_future(self._pump_stderr(job.stderr, errors)))
        try:
            job.stdin.write(program())
            await job.stdin.drain()
            ready = await asyncio.wait_for(self._handshake(job.stdout), self.start_timeout)
        except (OSError, EOFError, asyncio.TimeoutError, asyncio.IncompleteReadError, AgentError) as exc:
            await self._kill()
            tail = b"".join(errors[-10:]).decode("utf-8", "replace").strip()
            detail = f": {exc}" if str(exc) else f" ({type(exc).__name__})"
            message = f"the agent ({self.python} -I) did not start{detail}"
            if tail:
                message += f"; its stderr: {tail}"
            self._fail(message, exc)
            raise AgentError(message, self.host) from exc
        version, self.pid, self.python_version = ready
        self._last_seen = self._loop.time()
        self._tasks.append(asyncio.ensure_future(self._read(job.stdout)))
        self._tasks.append(asyncio.ensure_future(self._beat()))
        log.debug("[%s] agent started: pid %s, Python %s", self.host or "local", self.pid, self.python_version)

    async def _handshake(self, stdout: asyncio.StreamReader) -> tuple[int, int, str]:
        skipped = 0
        while True:
            line = await stdout.readline()
            if not line:
                raise EOFError("the interpreter exited before it was ready")
            ready = framing.parse_ready(line)
            if ready is not None:
                if ready[0] != framing.PROTOCOL_VERSION:
                    raise AgentError(f"the agent speaks protocol {ready[0]}, we speak {framing.PROTOCOL_VERSION}")
                return ready
            skipped += len(line)
            if skipped > framing.MAX_PREAMBLE:
                raise AgentError(f"no READY line in the first {framing.MAX_PREAMBLE} bytes of output")

    # -- output --------------------------------------------------------------------
    def open_inbox(self, blocking: bool) -> tuple[int, Any]:
        """A new request id and the queue its replies will arrive in."""
        self.check_alive()
        ident = next(self._ids) & 0xFFFFFFFF
        inbox: Any = queue.SimpleQueue() if blocking else AsyncInbox(self._loop)
        self._inboxes[ident] = inbox
        if self._failure is not None:  # it died between the check and now
            inbox.put_nowait((DEAD, self._failure))
        return ident, inbox

    def drop_inbox(self, ident: int) -> None:
        self._inboxes.pop(ident, None)

    def post(self, kind: int, ident: int, value: Any) -> None:
        """Queue a frame for the agent, from any thread (encoded here; FrameTooLarge refuses it)."""
        self.post_raw(kind, ident, codec.encode(value))

    def post_raw(self, kind: int, ident: int, payload: bytes) -> None:
        frame = framing.pack(kind, ident, payload, self.max_frame)
        self.check_alive()
        with self._out_lock:
            self._outbox.append(frame)
            if self._flush_pending:
                return  # a flush is already on its way: it takes this frame too
            self._flush_pending = True
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        with self._out_lock:
            frames, self._outbox = self._outbox, []
            self._flush_pending = False
        if self._failure is None and frames:
            try:
                self._job.stdin.write(b"".join(frames))
            except (OSError, RuntimeError) as exc:  # a closed transport
                self._fail("the pipe to the agent broke", exc)

    # -- input ---------------------------------------------------------------------
    async def _read(self, stdout: asyncio.StreamReader) -> None:
        decoder = framing.FrameDecoder(self.max_frame)
        inboxes = self._inboxes
        assert self._loop is not None
        try:
            while True:
                data = await stdout.read(1 << 20)
                if not data:
                    break
                self._last_seen = self._loop.time()
                for kind, ident, payload in decoder.feed(data):
                    if kind == framing.LOG:
                        self._log(payload)
                        continue
                    inbox = inboxes.get(ident)
                    if inbox is None:
                        continue  # a ping, or a reply nobody waits for any more
                    if kind in _TERMINAL:
                        del inboxes[ident]
                    inbox.put_nowait((kind, payload))
        except Exception as exc:  # FrameTooLarge, a reset pipe: the stream is lost
            self._fail("the agent's output could not be read", exc)
            return
        if not self._closing:
            code = await self._exit_code()
            self._fail(f"the agent exited (exit code {code})", EOFError("the agent's stdout closed"))

    async def _exit_code(self) -> int | None:
        try:
            return await asyncio.wait_for(self._job.wait(), 2)
        except asyncio.TimeoutError:
            return None

    def _log(self, payload: bytes) -> None:
        try:
            name, level, message, pathname, lineno, func = codec.decode(payload)
            record = self.logger.makeRecord(
                self.logger.name, level, pathname, lineno, message, (), None, func, {"remote_logger": name}
            )
        except (ValueError, TypeError) as exc:
            log.warning("[%s] a malformed log record from the agent: %s", self.host, exc)
            return
        if self.logger.isEnabledFor(level):
            self.logger.handle(record)

    async def _pump_stderr(self, stderr: asyncio.StreamReader, keep: list[bytes]) -> None:
        """The remote's own stderr and stdout (prints), line by line, to tether.remote.<host>."""
        while True:
            line = await stderr.readline()
            if not line:
                return
            keep.append(line)
            del keep[:-20]
            self.logger.info("%s", line.decode("utf-8", "replace").rstrip("\n"), extra={"remote_logger": "stderr"})

    async def _beat(self) -> None:
        assert self._loop is not None
        while self._failure is None:
            await asyncio.sleep(self.heartbeat)
            if self._loop.time() - self._last_seen > 3 * self.heartbeat:
                self._fail(f"no heartbeat from the agent for {3 * self.heartbeat:g} s", TimeoutError("heartbeat"))
                await self._kill()
                return
            try:
                self.post_raw(framing.PING, 0, b"N")
            except AgentError:
                return

    # -- failure and close ---------------------------------------------------------
    def check_alive(self) -> None:
        if self._failure is not None:
            message, cause = self._failure
            raise AgentError(message, self.host) from cause
        if self._job is None:
            raise AgentError("the agent is not started", self.host)

    def _fail(self, message: str, cause: BaseException | None) -> None:
        """Mark the agent dead and wake every waiting caller with the reason."""
        if self._failure is not None:
            return
        self._failure = (message, cause)
        log.debug("[%s] agent failed: %s (%r)", self.host or "local", message, cause)
        inboxes, self._inboxes = self._inboxes, {}
        for inbox in inboxes.values():
            inbox.put_nowait((DEAD, self._failure))
        if self._job is not None and self._job.stdin is not None:
            try:  # the agent's stdin: EOF tells it to go, and the pipe is not leaked
                self._job.stdin.close()
            except (OSError, RuntimeError):
                pass

    async def _kill(self) -> None:
        job = self._job
        if job is not None and job.returncode is None:
            job.kill()
            await self._exit_code()

    async def close(self) -> None:
        """Ask the agent to exit, close its stdin, and wait for it (killed after 5 s)."""
        if self._job is None or self._closing:
            return
        self._closing = True
        if self._failure is None:
            self._flush()
            try:
                self._job.stdin.write(framing.pack(framing.EXIT, 0, b"N"))
                self._job.stdin.close()
            except (OSError, RuntimeError):
                pass
        try:
            await asyncio.wait_for(self._job.wait(), 5)
        except asyncio.TimeoutError:
            await self._kill()
        self._fail("the agent was closed", None)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
