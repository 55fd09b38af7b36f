"""Where replies wait: one inbox per request.

A blocking caller waits on a ``queue.SimpleQueue``; a coroutine on an
:class:`AsyncInbox`. The controller's reader thread fills both; for
coroutines it hands a whole batch of replies to their event loop in one
wake-up. An inbox item is ``(frame kind, payload)``, or ``(DEAD, (message,
cause))`` when the agent is gone.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

DEAD = -1  # inbox item kind: the agent is gone; payload is (message, cause)


class AsyncInbox:
    """Replies for a coroutine: a deque and at most one waiting future, fed from the reader thread."""

    __slots__ = ("_items", "_waiter", "loop")

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._items: collections.deque = collections.deque()
        self._waiter: asyncio.Future | None = None

    def put_nowait(self, item: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(self._deliver, item)
        except RuntimeError:  # the caller's loop has ended: nobody waits any more
            pass

    def _deliver(self, item: Any) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self._waiter = None
            waiter.set_result(item)
        else:
            self._items.append(item)

    @staticmethod
    def deliver_all(loop: asyncio.AbstractEventLoop, deliveries: list) -> None:
        """Hand ``[(inbox, item), ...]`` to their loop in ONE wake-up (the reader's batch of replies)."""
        def run() -> None:
            for inbox, item in deliveries:
                inbox._deliver(item)

        try:
            loop.call_soon_threadsafe(run)
        except RuntimeError:  # that loop has ended: nobody waits any more
            pass

    async def get(self) -> Any:
        if self._items:
            return self._items.popleft()
        self._waiter = waiter = self.loop.create_future()
        return await waiter
