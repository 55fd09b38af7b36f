"""Calls into shipped modules: the proxies ``import_module`` returns, replies, remote errors.

::

    remote_foo = rem.import_module(foo)     # foo's source goes over once
    remote_foo.listdir(".")                 # one CALL frame, one RESULT frame
    for line in remote_foo.follow(path):    # a generator: YIELD frames stream in
        ...

A remote exception is raised here as :class:`tether.exceptions.RemoteCallError`
carrying the remote type name, message and traceback; when the remote class
is (or derives from) a builtin one, the raised error is ALSO an instance of
that builtin, so ``except FileNotFoundError`` works unchanged.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import types
from collections.abc import AsyncIterator, Iterator
from typing import Any

from .. import codec
from ..exceptions import AgentError, RemoteCallError, remote_error_class
from . import framing
from .controller import AgentConnection
from .inbox import DEAD


def module_source(module: Any) -> tuple[str, str]:
    """``(name, source)`` for a module object, an importable module name, or source text."""
    if isinstance(module, types.ModuleType):
        try:
            return module.__name__, inspect.getsource(module)
        except (OSError, TypeError) as exc:
            raise ValueError(f"cannot ship module {module.__name__!r}: its source is not available ({exc})") from None
    if isinstance(module, str):
        if "\n" not in module and module.replace(".", "").replace("_", "").isalnum():
            return module_source(importlib.import_module(module))
        return "<source>", module
    raise TypeError(f"import_module takes a module, a module name or source text, not {type(module).__name__}")


def remote_error(payload: bytes, host: str | None) -> RemoteCallError:
    name, builtin, message, traceback, args = codec.decode(payload)
    return remote_error_class(builtin)(name, message, traceback, host, tuple(args))


def settle(conn: AgentConnection, kind: int, payload: Any) -> Any:
    """The value a terminal reply carries, or the error it reports (raised)."""
    if kind == framing.RESULT:
        return codec.decode(payload)
    if kind == framing.ERROR:
        raise remote_error(payload, conn.host) from None
    if kind == DEAD:
        message, cause = payload
        raise AgentError(message, conn.host) from cause
    raise AgentError(f"unexpected frame kind {kind} in a reply", conn.host)


def start_call(conn: AgentConnection, kind: int, value: Any, blocking: bool) -> tuple[int, Any]:
    """Send one request; ``(id, inbox)`` for its replies."""
    return start_encoded(conn, kind, codec.encode(value), blocking)


def start_encoded(conn: AgentConnection, kind: int, payload: Any, blocking: bool) -> tuple[int, Any]:
    ident, inbox = conn.open_inbox(blocking)
    try:
        conn.post_raw(kind, ident, payload)
    except BaseException:
        conn.drop_inbox(ident)
        raise
    return ident, inbox


#: frames bigger than this are written from a worker thread, so the event loop never waits on a pipe
_BIG = 256 * 1024


async def start_encoded_async(conn: AgentConnection, kind: int, payload: list[bytes]) -> tuple[int, Any]:
    ident, inbox = conn.open_inbox(False)
    try:
        if sum(map(len, payload)) < _BIG:
            conn.post_raw(kind, ident, payload, defer=True)
        else:
            await asyncio.to_thread(conn.post_raw, kind, ident, payload)
    except BaseException:
        conn.drop_inbox(ident)
        raise
    return ident, inbox


_NO_KWARGS = [codec.encode({})]


def call_prefix(module: int, name: str) -> bytes:
    """The unchanging start of a CALL payload ``[module, name, args, kwargs]``."""
    return codec.list_header(4) + codec.encode(module) + codec.encode(name)


class _RemoteStream:
    """The state both generator flavours share: their inbox, and how they stop the remote side."""

    def __init__(self, conn: AgentConnection, ident: int, inbox: Any) -> None:
        self._conn, self._ident, self._inbox = conn, ident, inbox
        self._done = False

    def _item(self, kind: int, payload: Any) -> tuple[bool, Any]:
        """(True, item) for a YIELD; (False, None) at the end; raises what the remote raised."""
        if kind == framing.YIELD:
            return True, codec.decode(payload)
        self._done = True
        if kind == framing.END:
            return False, None
        return True, settle(self._conn, kind, payload)

    def _cancel(self) -> None:
        """Stop the remote generator (its loop ends at the next item) and drop what is queued."""
        if not self._done:
            self._done = True
            self._conn.drop_inbox(self._ident)
            if self._conn.alive:
                self._conn.post(framing.CANCEL, self._ident, None)

    def __del__(self) -> None:
        if not self._done:  # dropped half-read: tell the agent with the next frame (never block here)
            self._done = True
            self._conn.drop_inbox(self._ident)
            self._conn.post_soon(framing.CANCEL, self._ident, codec.encode(None))


class RemoteGenerator(_RemoteStream, Iterator):
    """Items of a remote generator as they arrive; closing it early stops the remote side."""

    def __next__(self) -> Any:
        if self._done:
            raise StopIteration
        more, item = self._item(*self._inbox.get())
        if not more:
            raise StopIteration
        return item

    def close(self) -> None:
        """Stop the remote generator (its loop ends at the next item) and drop what is queued."""
        self._cancel()


class AsyncRemoteGenerator(_RemoteStream, AsyncIterator):
    """``async for`` over a remote generator's items; dropping it half-read stops the remote side too."""

    async def __anext__(self) -> Any:
        if self._done:
            raise StopAsyncIteration
        more, item = self._item(*(await self._inbox.get()))
        if not more:
            raise StopAsyncIteration
        return item

    async def aclose(self) -> None:
        self._cancel()


class _ModuleProxy:
    def __init__(self, conn: AgentConnection, ident: int, name: str, functions: list[str]) -> None:
        self._conn = conn
        self._ident = ident
        self.__name__ = name
        self._functions = functions

    def __dir__(self) -> list[str]:
        return list(self._functions)

    def __repr__(self) -> str:
        return f"<remote module {self.__name__!r} on {self._conn.host or 'local'}>"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        function = self._function(name)
        setattr(self, name, function)  # later lookups skip __getattr__
        return function

    def _function(self, name: str) -> Any:
        raise NotImplementedError


class RemoteModule(_ModuleProxy):
    """A module shipped to the agent: ``remote_foo.listdir(".")`` calls it there and blocks."""

    def _function(self, name: str) -> Any:
        conn, prefix, parts = self._conn, call_prefix(self._ident, name), codec.encode_parts

        def call(*args: Any, **kwargs: Any) -> Any:
            payload = [prefix, *parts(args), *(parts(kwargs) if kwargs else _NO_KWARGS)]
            ident, inbox = start_encoded(conn, framing.CALL, payload, True)
            kind, payload = inbox.get()
            if kind == framing.GENERATOR:
                return RemoteGenerator(conn, ident, inbox)
            return settle(conn, kind, payload)

        call.__name__ = call.__qualname__ = name
        return call


class AsyncRemoteModule(_ModuleProxy):
    """The async flavour: ``await remote_foo.listdir(".")``; generators come back as async iterators."""

    def _function(self, name: str) -> Any:
        conn, prefix, parts = self._conn, call_prefix(self._ident, name), codec.encode_parts

        async def call(*args: Any, **kwargs: Any) -> Any:
            payload = [prefix, *parts(args), *(parts(kwargs) if kwargs else _NO_KWARGS)]
            ident, inbox = await start_encoded_async(conn, framing.CALL, payload)
            kind, payload = await inbox.get()
            if kind == framing.GENERATOR:
                return AsyncRemoteGenerator(conn, ident, inbox)
            return settle(conn, kind, payload)

        call.__name__ = call.__qualname__ = name
        return call
