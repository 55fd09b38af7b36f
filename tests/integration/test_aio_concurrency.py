"""tether.aio drives many commands on one connection from one event loop, within sshd's MaxSessions."""

import asyncio
import logging
import uuid

import pytest

import tether.aio

pytestmark = pytest.mark.sshd

MACHINES = {"native": tether.aio.NativeSshMachine, "ssh": tether.aio.SshMachine}


def machine(kind, s):
    return MACHINES[kind](s.host, user=s.user, port=s.port, keyfile=s.client_key, known_hosts=s.known_hosts)


@pytest.mark.parametrize("kind", MACHINES)
def test_a_thousand_concurrent_commands_all_succeed(kind, stock_sshd):
    async def main():
        async with machine(kind, stock_sshd) as rem:
            return await asyncio.wait_for(asyncio.gather(*(rem["echo"](i) for i in range(1000))), 240)

    assert asyncio.run(main()) == [f"{i}\n" for i in range(1000)]


@pytest.mark.parametrize("kind", MACHINES)
def test_more_big_outputs_than_channels_do_not_deadlock(kind, stock_sshd):
    """9 x 2 MB once hung for ever: the 9th waited for a channel on the loop the 8 needed."""

    async def main():
        async with machine(kind, stock_sshd) as rem:
            head = rem["head"]["-c", 2_000_000, "/dev/zero"]
            return await asyncio.wait_for(asyncio.gather(*(head() for _ in range(12))), 60)

    assert [len(out) for out in asyncio.run(main())] == [2_000_000] * 12


@pytest.mark.parametrize("kind", MACHINES)
def test_cancelling_the_gather_ends_every_remote_process(kind, stock_sshd):
    marker = uuid.uuid4().hex[:12]
    pattern = f"[s]leep 60 # {marker}"  # the brackets keep pgrep from finding its own command line

    async def main():
        # a second connection watches: the first one's channels are all taken by the sleepers
        async with machine(kind, stock_sshd) as rem, machine(kind, stock_sshd) as watcher:
            running = watcher["pgrep"]["-f", pattern]
            gathered = asyncio.gather(*(rem["sh"]["-c", f"sleep 60 # {marker}"]() for _ in range(20)))
            for _ in range(200):  # until the first 8 (the channel limit) run remotely
                await asyncio.sleep(0.05)
                if len((await running.run(retcode=None))[1].split()) >= 8:
                    break
            else:
                pytest.fail("the sleepers never started")
            gathered.cancel()
            with pytest.raises(asyncio.CancelledError):
                await gathered
            for _ in range(100):
                left = (await running.run(retcode=None))[1]
                if not left:
                    return left
                await asyncio.sleep(0.05)
            return left

    assert asyncio.run(main()) == ""  # nothing left running on the remote


@pytest.mark.parametrize("kind", MACHINES)
def test_a_command_on_a_machine_not_yet_connected_connects_it(kind, stock_sshd):
    async def main():
        rem = machine(kind, stock_sshd)
        echo = rem["echo"]  # builds a command: no I/O, no connection needed
        try:
            return await asyncio.gather(echo("a"), echo("b"))
        finally:
            await rem.close()

    assert asyncio.run(main()) == ["a\n", "b\n"]


@pytest.mark.parametrize("kind", MACHINES)
def test_no_callback_holds_the_loop_long(kind, stock_sshd, caplog):
    """asyncio's debug mode reports every callback slower than slow_callback_duration.

    The goal is 50 ms; measured today in debug mode on 2 busy cores, single steps
    take 60-85 ms, from GIL hand-offs with the helper threads that remain (the
    asyncssh connection's own loop thread, a reaper thread per ssh client), so
    the bound here is 250 ms: it catches real blocking (a connect, a wait for a
    channel, a serial round trip per command) while those threads remain.
    """

    async def main():
        loop = asyncio.get_running_loop()
        loop.slow_callback_duration = 0.25
        async with machine(kind, stock_sshd) as rem:
            await asyncio.gather(*(rem["echo"](i) for i in range(100)))
            await (rem["seq"][1, 20000] | rem["wc"]["-l"])()
            async with await rem.session() as shell:
                await shell.run("cd /tmp; pwd")
            await rem.which("sh")

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        asyncio.run(main(), debug=True)
    slow = [r.getMessage() for r in caplog.records if "took" in r.getMessage()]
    assert slow == []
