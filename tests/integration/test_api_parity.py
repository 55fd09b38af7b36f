"""The sync API and tether.aio give the same results on one scenario (behaviour, not just signatures)."""

import asyncio

import pytest

import tether
import tether.aio
from tether import ProcessExecutionError

pytestmark = pytest.mark.sshd


def scenario_sync(m):
    """Every step returns plain data, or the class and fields of the error it raised."""
    results = []

    def step(fn):
        try:
            results.append(fn())
        except ProcessExecutionError as exc:
            results.append((type(exc).__name__, exc.retcode, exc.stdout, exc.stderr))

    step(lambda: m["echo"]("a b", "it's"))
    step(lambda: m["sh"]["-c", "echo out; echo err >&2; exit 3"].run(retcode=None))
    step(lambda: (m["printf"]["x\\ny\\nx\\n"] | m["sort"] | m["uniq"]["-c"])().split())
    step(lambda: m["sh"]["-c", "echo partial; exit 5"]())
    step(lambda: m["sleep"](5, timeout=0.3))
    step(lambda: (m["cat"] << "fed on stdin")())
    step(lambda: str(m.which("sh")).endswith("/sh"))
    with m.session() as s:
        step(lambda: s.run("cd /tmp; pwd"))
    return results


async def scenario_async(m):
    results = []

    async def step(make):
        try:
            results.append(await make())
        except ProcessExecutionError as exc:
            results.append((type(exc).__name__, exc.retcode, exc.stdout, exc.stderr))

    async def pipeline():
        return (await (m["printf"]["x\\ny\\nx\\n"] | m["sort"] | m["uniq"]["-c"])()).split()

    async def which():
        return str(await m.which("sh")).endswith("/sh")

    await step(lambda: m["echo"]("a b", "it's"))
    await step(lambda: m["sh"]["-c", "echo out; echo err >&2; exit 3"].run(retcode=None))
    await step(pipeline)
    await step(lambda: m["sh"]["-c", "echo partial; exit 5"]())
    await step(lambda: m["sleep"](5, timeout=0.3))
    await step(lambda: (m["cat"] << "fed on stdin")())
    await step(which)
    async with await m.session() as s:
        await step(lambda: s.run("cd /tmp; pwd"))
    return results


EXPECTED = [
    "a b it's\n",
    (3, "out\n", "err\n"),
    ["2", "x", "1", "y"],
    ("ProcessExecutionError", 5, "partial\n", ""),
    ("ProcessTimedOut", None, "", ""),
    "fed on stdin",
    True,
    (0, "/tmp\n", ""),
]


def normalized(results):
    # a timeout's retcode is what the killed process left: compare the class only
    return [(r[0], None, "", "") if isinstance(r, tuple) and r and r[0] == "ProcessTimedOut" else r for r in results]


def test_local_sync_and_async_agree():
    assert normalized(scenario_sync(tether.local)) == EXPECTED
    assert normalized(asyncio.run(scenario_async(tether.aio.local))) == EXPECTED


@pytest.mark.parametrize("kind", ["NativeSshMachine", "SshMachine"])
def test_remote_sync_and_async_agree(kind, sshd_server):
    s = sshd_server
    kw = dict(user=s.user, port=s.port, keyfile=s.client_key, known_hosts=s.known_hosts)
    with getattr(tether, kind)(s.host, **kw) as rem:
        sync = normalized(scenario_sync(rem))

    async def run_async():
        async with getattr(tether.aio, kind)(s.host, **kw) as rem:
            return await scenario_async(rem)

    assert sync == EXPECTED
    assert normalized(asyncio.run(run_async())) == EXPECTED
