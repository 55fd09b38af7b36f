"""The agent on real machines: local, OpenSSH (SshMachine), asyncssh (NativeSshMachine), plink.

Seed 002's remote-function examples run as written (``conn`` is a tether
machine here); the sshd of the fixture listens on loopback, so a "remote"
pid is also a pid of this host, which is how the tests check that nothing
is left running.
"""

import asyncio
import gc
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
import seed_foo as foo

from tether import CommandNotFound, NativeSshMachine, PodmanMachine, PuttyMachine, SshMachine, local
from tether.agent import Agent, AsyncAgent
from tether.exceptions import AgentError, ChannelClosed, FrameTooLarge, RemoteCallError

MACHINES = {"local": None, "ssh": SshMachine, "native": NativeSshMachine, "putty": PuttyMachine}


def connect(server, kind):
    if kind == "local":
        return local
    if kind == "putty" and not shutil.which("plink"):
        pytest.skip("plink (putty-tools) is not installed")
    return MACHINES[kind](
        server.host, user=server.user, port=server.port, keyfile=server.client_key, known_hosts=server.known_hosts
    )


@pytest.fixture(scope="module", params=["local", "ssh", "native"])
def conn(request, sshd_server):
    yield from _opened(connect(sshd_server, request.param))


@pytest.fixture(scope="module", params=["local", "ssh", "native", "podman"])
def seed_conn(request, sshd_server):
    """Seed 002's targets, a real podman container among them (busybox, lent this host's python3)."""
    if request.param == "podman":
        yield from _opened(PodmanMachine(request.getfixturevalue("python_container")))
    else:
        yield from _opened(connect(sshd_server, request.param))


def _opened(machine):
    yield machine
    if machine is local:
        machine.agent().close()
    else:
        machine.close()


def gone(pid, patience=30.0):
    """True once process ``pid`` has exited (waits up to ``patience`` s: the system may be slow)."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True  # a zombie has exited; only its parent has not reaped it
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def wait_for_file(path, patience=30.0):
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                text = f.read().strip()
            if text:
                return text
        time.sleep(0.02)
    raise AssertionError(f"{path} never written")


# -- seed 002's examples ------------------------------------------------------------------


def test_import_module_listdir_as_in_the_seed(seed_conn):
    remote_foo = seed_conn.import_module(foo)
    listing = remote_foo.listdir(".")
    expected = seed_conn["ls"]["-A"]().split()
    assert sorted(listing) == sorted(expected)


def test_json_model_runs_a_fresh_interpreter_per_call(seed_conn):
    remote_foo = seed_conn.import_module(foo, model="json")
    assert sorted(remote_foo.listdir(".")) == sorted(seed_conn["ls"]["-A"]().split())
    with pytest.raises(FileNotFoundError) as info:
        remote_foo.boom("/nonexistent/tether")
    assert "in boom" in info.value.remote_traceback


def test_legacy_model_and_the_channelexec_footer(seed_conn):
    remote_foo = seed_conn.import_module(foo, model="legacy")
    assert sorted(remote_foo.listdir(".")) == sorted(seed_conn["ls"]["-A"]().split())
    remote_foo.close()

    channel = seed_conn.remote_exec(foo)
    channel.send("listdir('/')")
    assert "etc" in channel.receive()
    channel.send("echo([1, (2, 3), {'a': b'x'}])")
    assert channel.receive() == [1, (2, 3), {"a": b"x"}]
    channel.close()
    channel.waitclose(30)
    with pytest.raises(ChannelClosed):
        channel.receive()


def test_channel_iteration_and_remote_errors_on_channels(conn):
    channel = conn.remote_exec("for item in channel:\n    channel.send(item * 2)\n")
    for n in (1, "ab", [3]):
        channel.send(n)
    assert [channel.receive(timeout=30) for _ in range(3)] == [2, "abab", [3, 3]]
    channel.close()

    failing = conn.remote_exec("channel.send(1)\nraise KeyError('nope')\n")
    assert failing.receive(timeout=30) == 1
    with pytest.raises(KeyError) as info:  # the remote error ends the channel
        failing.receive()
    assert isinstance(info.value, RemoteCallError) and "nope" in str(info.value)

    quiet = conn.remote_exec("import time\ntime.sleep(30)\n")
    with pytest.raises(TimeoutError):
        quiet.receive(timeout=0.2)
    quiet.close()


# -- calls ---------------------------------------------------------------------------------


def test_eight_threads_run_at_once_on_the_remote(conn):
    remote_foo = conn.import_module(foo)  # a fresh module: a fresh 8-party barrier
    results = [None] * 8

    def call(i):
        try:
            results[i] = remote_foo.meet()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # every call got past the barrier: all eight were inside the remote at once, on 8 threads
    assert all(isinstance(r, int) for r in results), results
    assert len(set(results)) == 8


def test_remote_exception_keeps_type_message_and_traceback(conn):
    remote_foo = conn.import_module(foo)
    with pytest.raises(FileNotFoundError) as info:
        remote_foo.boom("/nonexistent/tether")
    error = info.value
    assert isinstance(error, RemoteCallError) and isinstance(error, OSError)
    assert error.remote_type == "FileNotFoundError"
    assert error.errno == 2 and error.filename == "/nonexistent/tether"
    assert "No such file or directory" in error.message
    assert 'in boom' in error.remote_traceback and "open(path)" in error.remote_traceback
    assert error.host == conn.host

    with pytest.raises(ValueError) as info:
        remote_foo.fail_custom("custom text")
    assert info.value.remote_type == "seed_foo.MyError" and info.value.message == "custom text"


def test_generators_stream_their_items(conn):
    remote_foo = conn.import_module(foo)
    assert list(remote_foo.count(1000)) == list(range(1000))
    stream = remote_foo.count(10**9)  # endless for our purposes: closing it stops the remote loop
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    assert remote_foo.echo("still serving") == "still serving"


def test_async_generators_stream_and_one_dropped_half_read_stops(conn):
    async def main():
        remote_foo = await conn.aio.import_module(foo)
        assert [item async for item in await remote_foo.count(100)] == list(range(100))
        stream = await remote_foo.count(10**9)
        assert [await stream.__anext__() for _ in range(3)] == [0, 1, 2]
        agent, ident = conn.aio._agent.connection, stream._ident
        assert ident in agent._inboxes
        del stream  # dropped without aclose(): nothing may keep collecting its items
        gc.collect()
        assert ident not in agent._inboxes
        assert await remote_foo.echo("still serving") == "still serving"

    asyncio.run(main())


def test_values_round_trip_through_the_codec(conn):
    remote_foo = conn.import_module(foo)
    value = {"n": [1, 2, 3] * 10, "s": ["a", "é"], "b": b"\x00\xff", "t": (None, True, 1.5), "f": frozenset({1})}
    assert remote_foo.echo(value) == value
    with pytest.raises(ValueError, match="which tether does not send"):
        remote_foo.echo(object())


def test_oversized_frames_are_refused_both_ways(conn):
    remote_foo = conn.import_module(foo)
    with pytest.raises(FrameTooLarge, match="exceeds the 16777216-byte limit"):
        remote_foo.echo(b"x" * (17 << 20))
    with pytest.raises(ValueError, match="exceeds the 16777216-byte limit"):
        remote_foo.big(17 << 20)  # refused by the agent, reported as the call's error
    assert remote_foo.big(10) == b"x" * 10  # and the agent still serves


def test_prints_in_shipped_code_do_not_break_the_protocol(conn, caplog):
    remote_foo = conn.import_module(foo)
    host = conn.host or "local"
    with caplog.at_level(logging.INFO, logger=f"tether.remote.{host}"):
        assert remote_foo.noisy(41) == 42
        assert remote_foo.echo("after") == "after"
        # the agent's stderr is read as it comes (not in step with replies): wait for both lines
        deadline = time.monotonic() + 30
        while not ("a print from shipped code" in caplog.text and "a child's stdout" in caplog.text):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert "a print from shipped code" in caplog.text and "a child's stdout" in caplog.text
    warnings = [r for r in caplog.records if r.getMessage() == "remote warning 41"]
    assert warnings and warnings[0].levelno == logging.WARNING and warnings[0].name == f"tether.remote.{host}"
    assert warnings[0].remote_logger == "seed_foo"


def test_one_agent_per_machine_started_lazily(conn):
    first = conn.agent()
    assert conn.agent().pid == first.pid and first.alive
    assert conn.import_module(foo).echo(os.getpid()) == os.getpid()
    assert conn.agent().pid == first.pid


# -- failures ------------------------------------------------------------------------------


def _sshd_of(pid):
    """The sshd process serving the connection that runs ``pid``."""
    while pid > 1:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if name.startswith("sshd"):
            return pid
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    raise AssertionError("no sshd above the agent")


@pytest.mark.parametrize("kind", ["ssh", "native", "putty"])
def test_killing_the_connection_mid_call_raises_agent_error_and_leaves_nothing(sshd_server, kind, tmp_path):
    if sshd_server.kind != "openssh":
        pytest.skip("needs the OpenSSH server: the test kills its per-connection process")
    rem = connect(sshd_server, kind)
    try:
        remote_foo = rem.import_module(foo)
        agent_pid = rem.agent().pid
        pidfile = str(tmp_path / "child")
        outcome = []
        caller = threading.Thread(target=lambda: outcome.append(_call(remote_foo.child_pid_of_sleeper, pidfile)))
        caller.start()
        child_pid = int(wait_for_file(pidfile))
        os.kill(_sshd_of(agent_pid), signal.SIGKILL)  # the connection dies mid-call
        caller.join(60)
        assert not caller.is_alive()
        assert isinstance(outcome[0], AgentError), outcome
        assert outcome[0].__cause__ is not None  # raised from the transport's error
        assert gone(agent_pid), "the agent outlived its connection"
        assert gone(child_pid), "the agent's child outlived it"
        with pytest.raises(AgentError):
            remote_foo.echo(1)
    finally:
        rem.close()


def _call(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:
        return exc


def test_a_killed_agent_raises_agent_error_and_the_next_one_starts(tmp_path):
    agent = Agent(AsyncAgent(local.aio))
    agent.start()
    try:
        remote_foo = agent.import_module(foo)
        outcome = []
        caller = threading.Thread(target=lambda: outcome.append(_call(remote_foo.child_pid_of_sleeper, str(tmp_path / "c"))))
        caller.start()
        child = int(wait_for_file(str(tmp_path / "c")))
        os.kill(agent.pid, signal.SIGKILL)
        caller.join(60)
        assert isinstance(outcome[0], AgentError) and "exited" in str(outcome[0])
        assert isinstance(outcome[0].__cause__, EOFError)
        os.kill(child, signal.SIGKILL)  # SIGKILL gave the agent no chance to do it
    finally:
        agent.close()


_CONTROLLER = """
import sys, time
sys.path.insert(0, {tests!r})
from tether import local
from tether.agent import Agent, AsyncAgent
agent = Agent(AsyncAgent(local.aio, heartbeat=0.3))
agent.start()
m = agent.import_module("seed_foo")
print(agent.pid, flush=True)
m.child_pid_of_sleeper({pidfile!r})
"""


@pytest.mark.parametrize("how", ["killed", "stopped"])
def test_the_agent_exits_and_kills_its_children_when_the_controller_goes(tmp_path, how):
    """Killed: the agent sees EOF. Stopped (SIGSTOP): no heartbeat for 3 intervals."""
    pidfile = str(tmp_path / "child")
    script = _CONTROLLER.format(tests=os.path.dirname(__file__), pidfile=pidfile)
    controller = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        agent_pid = int(controller.stdout.readline())
        child = int(wait_for_file(pidfile))
        os.kill(controller.pid, signal.SIGKILL if how == "killed" else signal.SIGSTOP)
        assert gone(agent_pid) and gone(child)
    finally:
        controller.kill()
        controller.wait()
        controller.stdout.close()


def test_an_interpreter_that_is_not_there_is_a_clear_agent_error():
    agent = Agent(AsyncAgent(local.aio, python="/nonexistent/python3"))
    with pytest.raises(CommandNotFound, match="python3"):
        agent.start()
    bad = Agent(AsyncAgent(local.aio, python="/bin/false"))
    with pytest.raises(AgentError, match="did not start"):
        bad.start()


def test_logging_first_imported_inside_a_call_is_forwarded_at_once(caplog):
    """The agent imports logging only when shipped code does; not a record is lost for it."""
    source = "def log_once():\n    import logging\n    logging.getLogger('late').error('from the call %d', 7)\n"
    agent = Agent(AsyncAgent(local.aio))
    agent.start()
    try:
        with caplog.at_level(logging.INFO, logger="tether.remote.local"):
            agent.import_module(source).log_once()
            agent.import_module("def ping():\n    return 1\n").ping()  # records travel before this reply
        records = [r for r in caplog.records if r.getMessage() == "from the call 7"]
        assert records and records[0].levelno == logging.ERROR and records[0].remote_logger == "late"
    finally:
        agent.close()


def test_an_agent_that_stops_answering_raises_agent_error_from_the_heartbeat():
    agent = Agent(AsyncAgent(local.aio, heartbeat=0.2))
    agent.start()
    pid = agent.pid
    try:
        remote = agent.import_module(foo)
        os.kill(pid, signal.SIGSTOP)  # alive, but silent: only the heartbeat can tell
        with pytest.raises(AgentError, match="no heartbeat") as info:
            remote.echo(1)
        assert isinstance(info.value.__cause__, TimeoutError)
        assert gone(pid)  # and the controller ended it
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        agent.close()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork() with threads, 3.12+
def test_a_forked_child_gets_its_own_agent_not_the_parents():
    parent_pid = local.agent().pid
    remote = local.import_module(foo)
    child = os.fork()
    if child == 0:  # the parent's agent must not be written to from here
        try:
            with pytest.raises(AgentError, match="forked"):
                remote.echo(1)
            ok = local.import_module(foo).echo(2) == 2 and local.agent().pid != parent_pid
            local.agent().close()
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert remote.echo(3) == 3 and local.agent().pid == parent_pid
    local.agent().close()
