"""remoto's channel model: ``rem.remote_exec(module_or_source)`` and the modules written for it.

The source runs on the agent in its own thread with ``__name__ ==
"__channelexec__"`` and a global ``channel``; both ends ``send`` and
``receive`` values (the codec's shapes)::

    ch = rem.remote_exec("for item in channel: channel.send(item * 2)")
    ch.send(21); ch.receive()      # 42
    ch.close()                     # the remote loop ends; so does its thread

A module ending in remoto's legacy footer works as it is, and
:class:`LegacyModule` calls its functions the way remoto's legacy model does
(the call goes over as text and the remote ``eval``s it)::

    if __name__ == '__channelexec__':
        for item in channel:
            channel.send(eval(item))
"""

from __future__ import annotations

import collections
import queue
import threading
from typing import Any

from .. import codec
from ..exceptions import ChannelClosed
from . import framing
from .calls import remote_error, settle
from .controller import AgentConnection

_NONE = codec.encode(None)

class _ChannelBase:
    def __init__(self, conn: AgentConnection, ident: int, inbox: Any, name: str) -> None:
        self._conn = conn
        self._ident = ident
        self._inbox = inbox
        self.name = name
        self._early: collections.deque = collections.deque()  # items read ahead by waitclose()
        self._remote_closed = False
        self._closed = False
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        state = "closed" if self.isclosed() else "open"
        return f"<Channel {self.name} on {self._conn.host or 'local'} {state}>"

    def send(self, item: Any) -> None:
        """Send ``item`` to the remote side (FrameTooLarge if it is over the frame limit)."""
        if self._closed or self._remote_closed:
            raise ChannelClosed(f"cannot send on {self!r}")
        self._conn.post(framing.DATA, self._ident, item)

    def isclosed(self) -> bool:
        return self._closed or self._remote_closed

    def close(self) -> None:
        """Close our end: the remote ``for item in channel`` loop ends."""
        if not self._closed:
            self._closed = True
            if not self._remote_closed and self._conn.alive:
                self._conn.post(framing.CLOSE, self._ident, None)

    def _take(self, kind: int, payload: Any) -> tuple[bool, Any]:
        """``(True, item)`` for data; for the end, record why and return ``(False, None)``."""
        if kind == framing.DATA:
            return True, codec.decode(payload)
        self._remote_closed = True
        if kind == framing.CLOSE:
            if payload != _NONE:  # a close that carries the remote error
                self._error = remote_error(payload, self._conn.host)
        else:
            try:
                settle(self._conn, kind, payload)
            except Exception as exc:
                self._error = exc
        return False, None

    def _ended(self) -> Any:
        if self._error is not None:
            raise self._error
        raise ChannelClosed(f"{self!r} has no more items")


class Channel(_ChannelBase):
    """The blocking end of a remote_exec() channel: send, receive, iterate, close."""

    def receive(self, timeout: float | None = None) -> Any:
        """The next item; TimeoutError after ``timeout`` s; ChannelClosed (or the remote error) at the end."""
        if self._early:
            return self._early.popleft()
        if self._remote_closed:
            self._ended()
        try:
            kind, payload = self._inbox.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no item on {self!r} within {timeout} s") from None
        ok, item = self._take(kind, payload)
        return item if ok else self._ended()

    def __iter__(self) -> Channel:
        return self

    def __next__(self) -> Any:
        try:
            return self.receive()
        except ChannelClosed:
            raise StopIteration from None

    def waitclose(self, timeout: float | None = None) -> None:
        """Wait until the remote side has finished; raises its error if it failed."""
        while not self._remote_closed:
            try:
                kind, payload = self._inbox.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"{self!r} still open after {timeout} s") from None
            ok, item = self._take(kind, payload)
            if ok:
                self._early.append(item)
        if self._error is not None:
            raise self._error


class AsyncChannel(_ChannelBase):
    """The async end: ``await ch.receive()``, ``async for item in ch``."""

    async def receive(self) -> Any:
        if self._early:
            return self._early.popleft()
        if self._remote_closed:
            self._ended()
        kind, payload = await self._inbox.get()
        ok, item = self._take(kind, payload)
        return item if ok else self._ended()

    def __aiter__(self) -> AsyncChannel:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except ChannelClosed:
            raise StopAsyncIteration from None


class LegacyModule:
    """remoto's legacy model: calls travel as text ``"name(args)"`` over a remote_exec channel.

    The module must end with the ``__channelexec__`` footer. Arguments are
    sent as their ``repr`` (so: literals only), one call at a time.
    """

    def __init__(self, channel: Channel, name: str) -> None:
        self._channel = channel
        self._lock = threading.Lock()
        self.__name__ = name

    def __repr__(self) -> str:
        return f"<legacy remote module {self.__name__!r} over {self._channel!r}>"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or not name.isidentifier():
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            arguments = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
            with self._lock:
                self._channel.send(f"{name}({', '.join(arguments)})")
                return self._channel.receive()

        call.__name__ = name
        return call

    def close(self) -> None:
        self._channel.close()
