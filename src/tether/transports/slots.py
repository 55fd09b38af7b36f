"""How many channels one connection may have open: a limit shared by event loops and threads.

sshd refuses sessions past its ``MaxSessions`` (10 by default), so each remote
machine lets at most N commands hold a channel and makes the others wait for
one. Both of tether's APIs draw from the same limit: async code awaits
:meth:`ChannelSlots.acquire_async`, which suspends only the waiting task
(never the event loop: a blocking wait there once stalled the very commands
that would have freed a slot, so the 9th concurrent command hung for ever),
and the blocking API's caller threads use :meth:`ChannelSlots.acquire`.
A slot freed by any thread goes to the longest waiter first.

The lock guards a counter and a queue only; it is never held while waiting.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Callable


class _Waiter:
    """One queued acquirer; ``granted`` is set under the lock when a slot is handed to it."""

    __slots__ = ("granted", "wake")

    def __init__(self, wake: Callable[[], None]) -> None:
        self.granted = False
        self.wake = wake


class ChannelSlots:
    """At most ``size`` holders at once, FIFO, for tasks on any loop and for threads."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"a channel limit must be at least 1; got {size}")
        self.size = size
        self._free = size
        self._lock = threading.Lock()
        self._queue: collections.deque[_Waiter] = collections.deque()

    @property
    def in_use(self) -> int:
        return self.size - self._free

    def _try_take(self) -> bool:
        if self._free > 0 and not self._queue:
            self._free -= 1
            return True
        return False

    async def acquire_async(self) -> None:
        """Wait for a slot without blocking the event loop; a cancelled wait takes none."""
        with self._lock:
            if self._try_take():
                return
            loop = asyncio.get_running_loop()
            future: asyncio.Future[None] = loop.create_future()
            waiter = _Waiter(lambda: _wake_in(loop, future))
            self._queue.append(waiter)
        try:
            await future
        except BaseException:  # cancelled: leave the queue, or pass on a slot granted meanwhile
            if not self._leave_queue(waiter):
                self.release()
            raise

    def acquire(self, timeout: float | None = None) -> bool:
        """Block this thread (never an event loop's) until a slot is free; False after ``timeout``."""
        with self._lock:
            if self._try_take():
                return True
            event = threading.Event()
            waiter = _Waiter(event.set)
            self._queue.append(waiter)
        # timed out: a slot granted at the last moment is kept
        return event.wait(timeout) or not self._leave_queue(waiter)

    def _leave_queue(self, waiter: _Waiter) -> bool:
        """Take ``waiter`` out of the queue; False when it was granted a slot (it holds one now)."""
        with self._lock:
            if waiter.granted:
                return False
            self._queue.remove(waiter)
            return True

    def release(self) -> None:
        """Free one slot (from any thread); the longest waiter gets it."""
        with self._lock:
            if not self._queue:
                if self._free >= self.size:
                    raise RuntimeError("ChannelSlots released more often than acquired")
                self._free += 1
                return
            waiter = self._queue.popleft()
            waiter.granted = True
        waiter.wake()


def _wake_in(loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> None:
    loop.call_soon_threadsafe(_resolve, future)  # release() may run on any thread


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
