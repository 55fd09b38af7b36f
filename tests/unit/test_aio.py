"""The async core, the sync facade over it, and the portal between them."""

import asyncio
import inspect
import os

import pytest

import tether
import tether.aio
from tether import PortalError, ProcessTimedOut
from tether._portal import portal
from tether.agent import Agent, AsyncAgent
from tether.execution.session import AsyncShellSession, ShellSession
from tether.machines.container import (
    AsyncDockerMachine,
    AsyncKubernetesMachine,
    AsyncOpenShiftMachine,
    AsyncPodmanMachine,
    DockerMachine,
    KubernetesMachine,
    OpenShiftMachine,
    PodmanMachine,
)
from tether.machines.local import AsyncLocalMachine, LocalMachine
from tether.machines.native import AsyncNativeSshMachine, NativeSshMachine
from tether.machines.putty import AsyncPuttyMachine, PuttyMachine
from tether.machines.ssh import AsyncSshMachine, SshMachine

TWINS = [
    (AsyncLocalMachine, LocalMachine),
    (AsyncShellSession, ShellSession),
    (AsyncSshMachine, SshMachine),
    (AsyncNativeSshMachine, NativeSshMachine),
    (AsyncPuttyMachine, PuttyMachine),
    (AsyncPodmanMachine, PodmanMachine),
    (AsyncDockerMachine, DockerMachine),
    (AsyncKubernetesMachine, KubernetesMachine),
    (AsyncOpenShiftMachine, OpenShiftMachine),
    (AsyncAgent, Agent),
]


@pytest.mark.parametrize("async_cls, sync_cls", TWINS, ids=lambda c: c.__name__)
def test_every_public_coroutine_has_a_sync_twin_with_the_same_parameters(async_cls, sync_cls):
    coroutines = [
        name
        for name, fn in inspect.getmembers(async_cls, inspect.iscoroutinefunction)
        if not name.startswith("_")
    ]
    assert coroutines, "nothing to compare"
    for name in coroutines:
        twin = getattr(sync_cls, name, None)
        assert twin is not None, f"{sync_cls.__name__}.{name} is missing"
        assert not inspect.iscoroutinefunction(twin), f"{sync_cls.__name__}.{name} must block"
        # the parameters must agree; the sync twin may return its blocking counterpart
        # (a Popen for a Job, say), so return annotations are not compared
        sync_params = inspect.signature(twin).parameters
        async_params = inspect.signature(getattr(async_cls, name)).parameters
        assert sync_params == async_params, name


def test_async_api_runs_commands_as_coroutines():
    async def main():
        local = tether.aio.local
        rc, out, err = await local["sh"]["-c", "echo a; echo b >&2"].run()
        piped = await (local["printf"]["x\ny\n"] | local["grep"]["y"])()
        results = await asyncio.gather(*(local["echo"](i) for i in range(20)))
        async with await local.session() as s:
            assert await s.run("cd / && pwd") == (0, "/\n", "")
        lines = [item async for item in local["sh"]["-c", "echo 1; echo 2"].iter_lines()]
        return (rc, out, err), piped, results, lines

    triple, piped, results, lines = asyncio.run(main())
    assert triple == (0, "a\n", "b\n") and piped == "y\n"
    assert results == [f"{i}\n" for i in range(20)]
    assert lines == [("1\n", None), ("2\n", None)]


def test_cancelling_an_await_kills_the_process():
    marker = f"tether-cancel-{os.getpid()}"

    async def main():
        task = asyncio.ensure_future(tether.aio.local["bash"]["-c", f"exec -a {marker} sleep 300"].run())
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert not tether.local.pgrep(marker)


def test_blocking_call_from_the_loop_thread_is_refused():
    async def inside():
        return tether.local["true"]()

    with pytest.raises(PortalError, match=r"tether\.aio"):
        portal.call(inside)


def test_timeout_through_the_portal_is_a_timeout_error():
    with pytest.raises(TimeoutError):
        tether.local["sleep"]("10", timeout=0.2)
    with pytest.raises(ProcessTimedOut):
        tether.local["sleep"]("10", timeout=0.2)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork() with threads, 3.12+
def test_portal_survives_fork():
    assert tether.local["echo"]("parent") == "parent\n"
    pid = os.fork()
    if pid == 0:  # child: the parent's loop thread is gone; a new one must start
        try:
            ok = tether.local["echo"]("child") == "child\n"
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_async_agent_calls_are_coroutines_and_generators_async_iterators():
    source = "def add(a, b):\n    return a + b\ndef count(n):\n    yield from range(n)\n"

    async def main():
        mod = await tether.aio.local.import_module(source)
        total = await mod.add(2, 3)
        gathered = await asyncio.gather(*(mod.add(i, i) for i in range(50)))
        items = [i async for i in await mod.count(4)]
        channel = await tether.aio.local.remote_exec("for x in channel:\n    channel.send(-x)\n")
        channel.send(5)
        echoed = await channel.receive()
        channel.close()
        await (await tether.aio.local.agent()).close()
        return total, gathered, items, echoed

    total, gathered, items, echoed = asyncio.run(main())
    assert total == 5 and gathered == [2 * i for i in range(50)] and items == [0, 1, 2, 3] and echoed == -5


def test_one_agent_serves_the_sync_api_and_any_event_loop():
    source = "import os\ndef pid():\n    return os.getpid()\n"
    sync_pid = tether.local.import_module(source).pid()  # started on tether's loop

    async def from_another_loop():
        mod = await tether.aio.local.import_module(source)
        return await asyncio.gather(*(mod.pid() for _ in range(20)))

    assert asyncio.run(from_another_loop()) == [sync_pid] * 20
    tether.local.agent().close()

    async def started_here():  # an agent started on a loop that then ends...
        return await (await tether.aio.local.import_module(source)).pid()

    first = asyncio.run(started_here())
    assert tether.local.import_module(source).pid() == first  # ...keeps serving: calls need no loop
    tether.local.agent().close()  # and closes cleanly without its loop
    assert _state(first) in ("gone", "Z")


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


def test_a_stopped_portal_refuses_calls_and_ends_the_ones_waiting():
    import concurrent.futures
    import threading

    from tether._portal import Portal

    own = Portal("tether-test-portal")
    assert own.call(asyncio.sleep, 0, "up") == "up"
    outcome = []

    def waiter():
        try:
            own.call(asyncio.sleep, 100)
        except (PortalError, concurrent.futures.CancelledError) as exc:
            outcome.append(type(exc))

    thread = threading.Thread(target=waiter)
    thread.start()
    while not [t for t in asyncio.all_tasks(own.loop)]:
        pass
    own.stop(timeout=2)  # what interpreter exit does
    thread.join(5)
    assert outcome and not thread.is_alive()  # the waiting call ended instead of hanging
    with pytest.raises(PortalError, match="stopped"):
        own.call(asyncio.sleep, 0)
