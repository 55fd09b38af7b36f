"""What users hold: ``Agent`` (blocking) and ``AsyncAgent``, and the machine methods built on them.

Every machine has one agent, started on first use::

    remote_foo = rem.import_module(foo)          # starts rem's agent if needed
    remote_foo.listdir(".")
    ch = rem.remote_exec(module_with_footer)     # remoto's channel model
    rem.agent().pid                              # the remote interpreter's pid

``model="legacy"`` calls a module through a channel as remoto's legacy model
does; ``model="json"`` runs a fresh interpreter per call (remoto's json
model). A blocking call does not go through the portal: the caller posts
its frame onto tether's loop and waits on its own queue, so calls from many
threads are in flight at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

from .._portal import blocking, portal
from ..exceptions import AgentError
from . import framing
from .calls import AsyncRemoteModule, RemoteModule, module_source, settle, start_call
from .channels import AsyncChannel, Channel, LegacyModule
from .controller import DEFAULT_HEARTBEAT, DEFAULT_START_TIMEOUT, DEFAULT_THREADS, AgentConnection
from .json_model import AsyncJsonModule, JsonModule

MODELS = ("agent", "legacy", "json")


class AsyncAgent:
    """The agent on one machine, async flavour (see :class:`AgentConnection` for the options)."""

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
        self.connection = AgentConnection(
            machine, python=python, max_frame=max_frame, heartbeat=heartbeat, threads=threads,
            start_timeout=start_timeout,
        )
        self._started: concurrent.futures.Future | None = None

    def __repr__(self) -> str:
        return repr(self.connection).replace("AgentConnection", type(self).__name__)

    @property
    def host(self) -> str | None:
        return self.connection.host

    @property
    def pid(self) -> int | None:
        """The remote interpreter's process id."""
        return self.connection.pid

    @property
    def python(self) -> str:
        return self.connection.python

    @property
    def alive(self) -> bool:
        return self.connection.alive

    @property
    def failed(self) -> bool:
        """True once it has died or been closed (a new agent is then needed).

        The loop it was started on may end (``asyncio.run`` returns): calls do
        not need it, so the agent keeps serving every thread and loop.
        """
        return self.connection._failure is not None

    async def start(self) -> None:
        """Start the remote interpreter (once; later calls, from any thread or loop, wait for the same start)."""
        if self._started is None:
            self._started = concurrent.futures.Future()
            task = asyncio.ensure_future(self.connection.start())
            task.add_done_callback(_copy_outcome(self._started))
        await asyncio.wrap_future(self._started)

    async def import_module(self, module: Any) -> AsyncRemoteModule:
        """Ship ``module`` (a module, its name, or source text); its functions become coroutines."""
        name, source = module_source(module)
        ident, inbox = start_call(self.connection, framing.LOAD, [name, source], False)
        functions = settle(self.connection, *await inbox.get())
        return AsyncRemoteModule(self.connection, ident, name, functions)

    async def remote_exec(self, module: Any) -> AsyncChannel:
        """Run ``module`` (a module, its name, or source) remotely with a ``channel``; its local end."""
        name, source = module_source(module)
        ident, inbox = start_call(self.connection, framing.OPEN, [source, name], False)
        return AsyncChannel(self.connection, ident, inbox, name)

    async def close(self) -> None:
        """Stop the remote interpreter (and whatever it started)."""
        await self.connection.close()


def _copy_outcome(target: concurrent.futures.Future) -> Any:
    def copy(task: asyncio.Task) -> None:
        if task.cancelled():
            target.set_exception(AgentError("the agent's start was cancelled"))
        elif task.exception() is not None:
            target.set_exception(task.exception())
        else:
            target.set_result(None)

    return copy


class Agent:
    """The agent on one machine, blocking flavour: ``import_module``, ``remote_exec``, ``close``."""

    def __init__(self, aio: AsyncAgent) -> None:
        self.aio = aio

    def __repr__(self) -> str:
        return repr(self.aio).replace("AsyncAgent", "Agent")

    host = property(lambda self: self.aio.host)
    pid = property(lambda self: self.aio.pid, doc="The remote interpreter's process id.")
    python = property(lambda self: self.aio.python)
    alive = property(lambda self: self.aio.alive)

    start = blocking(AsyncAgent.start)

    def import_module(self, module: Any) -> RemoteModule:
        conn = self.aio.connection
        name, source = module_source(module)
        ident, inbox = start_call(conn, framing.LOAD, [name, source], True)
        functions = settle(conn, *inbox.get())
        return RemoteModule(conn, ident, name, functions)

    def remote_exec(self, module: Any) -> Channel:
        conn = self.aio.connection
        name, source = module_source(module)
        ident, inbox = start_call(conn, framing.OPEN, [source, name], True)
        return Channel(conn, ident, inbox, name)

    close = blocking(AsyncAgent.close)

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# -- the machine methods (machines/base.py delegates here) ------------------------------


def _check_model(model: str) -> None:
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}; got {model!r}")


async def machine_agent(machine: Any, python: str | None) -> AsyncAgent:
    """``machine``'s agent, started (a new one if the last one died or was closed)."""
    machine._check_open()
    agent: AsyncAgent | None = machine._agent
    if agent is not None and not agent.failed:
        if python is not None and python != agent.python:
            raise ValueError(
                f"{machine!r} already runs an agent on {agent.python!r}; close it (machine.agent().close()) "
                f"before starting one on {python!r}"
            )
    else:
        if agent is not None:  # dead, or its loop has ended: make sure its process is gone too
            await agent.close()
        agent = machine._agent = AsyncAgent(machine, python=python)
    await agent.start()
    return agent


async def close_machine_agent(machine: Any) -> None:
    agent, machine._agent = machine._agent, None
    if agent is not None:
        await agent.close()


async def import_module_async(machine: Any, module: Any, model: str, python: str | None = None) -> Any:
    _check_model(model)
    if model == "json":
        return AsyncJsonModule(machine, module, python)
    if model == "legacy":
        raise ValueError("model='legacy' is blocking only: use the sync machine, or model='agent'")
    agent = await machine_agent(machine, python)
    return await agent.import_module(module)


def import_module_sync(facade: Any, module: Any, model: str, python: str | None = None) -> Any:
    _check_model(model)
    if model == "json":
        return JsonModule(facade, module, python)
    agent = Agent(portal.call(machine_agent, facade.aio, python))
    if model == "legacy":
        return LegacyModule(agent.remote_exec(module), module_source(module)[0])
    return agent.import_module(module)


def close_machine_agent_blocking(machine: Any) -> None:
    """Close ``machine``'s agent from a blocking close path (any thread but the agent's loop's)."""
    agent, machine._agent = machine._agent, None
    loop = agent.connection._loop if agent is not None else None
    if loop is None or not loop.is_running() or loop is asyncio._get_running_loop():
        return  # never started, or its loop is gone (its process dies with the connection)
    try:
        asyncio.run_coroutine_threadsafe(agent.close(), loop).result(10)
    except Exception:  # best effort on the way out: the connection's end stops it anyway
        pass
