"""One background event loop that runs tether's async core for the sync API.

The sync facades are two-liners: ``return portal.call(self._aio.run, ...)``.
The loop thread starts on first use, is a daemon, and is re-created after
``fork()`` in the child (the parent's thread does not exist there). A blocking
call from the loop thread itself would deadlock, so it is refused with a clear
error. If the caller is interrupted (^C) while waiting, the coroutine is
cancelled, which kills the process it was running.

At interpreter exit (``atexit``, after every machine's own close has run) the
loop cancels what still runs on it, within a bound, and stops. A call after
that, such as a ``popen()`` stream closed by the garbage collector during
shutdown, raises PortalError at once instead of waiting for ever on a loop
that no longer runs.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import functools
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .exceptions import PortalError

T = TypeVar("T")


class Portal:
    def __init__(self, name: str = "tether-portal") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None:
            with self._lock:
                self._refuse_when_stopped()
                if self._loop is None:
                    self._start()
                loop = self._loop
        assert loop is not None
        return loop

    def _refuse_when_stopped(self) -> None:
        if self._stopped or sys.is_finalizing():
            raise PortalError("tether's event loop has stopped: the interpreter is exiting")

    def _start(self) -> None:
        ready = threading.Event()
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        thread = threading.Thread(target=run, name=self.name, daemon=True)
        thread.start()
        ready.wait()
        self._loop, self._thread = loop, thread

    def in_loop_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def refuse_in_loop_thread(self) -> None:
        """Blocking on tether's own loop would stall (or deadlock) every tether call."""
        if self.in_loop_thread():
            raise PortalError(
                "a blocking tether call was made from tether's own event loop; "
                "inside async code use tether.aio (await the coroutine) instead"
            )

    def submit(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        """Schedule ``fn(*args, **kwargs)`` on the loop; return a concurrent future."""
        self.refuse_in_loop_thread()
        return asyncio.run_coroutine_threadsafe(_invoke(fn, args, kwargs), self.loop)

    def call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` on the loop and block for its result."""
        self._refuse_when_stopped()
        future = self.submit(fn, *args, **kwargs)
        try:
            # (not future.result(timeout): the call's own TimeoutError must not read as ours)
            while not concurrent.futures.wait([future], _CHECK_EVERY).done:
                # the loop stopped under us (interpreter exit): nothing will answer
                if self._stopped or not (self._thread and self._thread.is_alive()):
                    raise PortalError("tether's event loop stopped while a call waited for it")
            return future.result()
        except BaseException:
            # ^C or another interruption of the waiting thread: cancel the work,
            # so whatever it started (a process) is torn down, not orphaned.
            future.cancel()
            raise

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel what still runs on the loop (bounded by ``timeout``), stop it, refuse calls from now on."""
        with self._lock:
            self._stopped = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive() or self.in_loop_thread():
            return
        try:
            asyncio.run_coroutine_threadsafe(_cancel_the_rest(timeout), loop).result(timeout + 1)
        except Exception:  # a task that would not end: stop the loop anyway
            pass
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not thread.is_alive():
            loop.close()

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._loop = None
        self._thread = None


#: how often a waiting caller checks that the loop still runs
_CHECK_EVERY = 1.0


async def _cancel_the_rest(timeout: float) -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()  # a running command's task kills its process group as it ends
    if tasks:
        await asyncio.wait(tasks, timeout=timeout)


async def _invoke(fn: Callable[..., Awaitable[T]], args: tuple, kwargs: dict) -> T:
    return await fn(*args, **kwargs)


portal = Portal()
os.register_at_fork(after_in_child=portal._after_fork_in_child)

#: the loop that runs native SSH connections (asyncssh). Apart from the
#: portal's, so the blocking side of a channel (a process handle the local
#: pipeline runner waits on) can be used from any thread, the portal's included.
ssh_portal = Portal("tether-ssh")
os.register_at_fork(after_in_child=ssh_portal._after_fork_in_child)


def blocking(coroutine_function: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    """The sync twin of an async method: ``close = blocking(AsyncMachine.close)`` in a facade.

    The twin hands ``self.aio.<name>(...)`` to the portal and blocks for the
    result; it keeps the coroutine's name, docstring and signature (help()
    and the parity test see the same parameters). Only measured fast paths
    are written by hand.
    """
    name = coroutine_function.__name__

    @functools.wraps(coroutine_function)
    def twin(self: Any, *args: Any, **kwargs: Any) -> T:
        return portal.call(getattr(self.aio, name), *args, **kwargs)

    return twin


#: run at exit before the loops stop (machines closing: they still need the loops)
_before_stop: list[Callable[[], None]] = []


def before_stop_at_exit(hook: Callable[[], None]) -> None:
    """Run ``hook`` at interpreter exit while the loops still run (whatever atexit's order)."""
    _before_stop.append(hook)


def _stop_at_exit() -> None:
    for hook in reversed(_before_stop):
        try:
            hook()
        except Exception:  # best effort on the way out: the loops must stop regardless
            pass
    portal.stop()
    ssh_portal.stop()


atexit.register(_stop_at_exit)


def call(fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """Module-level shortcut for ``portal.call``."""
    return portal.call(fn, *args, **kwargs)
