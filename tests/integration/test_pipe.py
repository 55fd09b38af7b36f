"""tether.pipe end to end: SshPipe on the real sshd fixture, PipeHandler programs on the "remote".

The remote is the loopback sshd, whose login shell has a clean PATH (no
pyenv): handler programs run with this venv's python by absolute path.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from tether import ClosedError, NativeSshMachine, PuttyMachine, SshMachine
from tether.codec import CodecError
from tether.exceptions import PipeError, PipeStartTimeout
from tether.pipe import EXIT_ATEXIT, EXIT_ATSTART, EXIT_HANDLE, SshPipe

pytestmark = pytest.mark.sshd

# a handler that echoes what it gets; argv says where to fail and where to log
ECHO_HANDLER = textwrap.dedent("""
    import logging, sys
    from tether.pipe import PipeHandler

    class Echo(PipeHandler):
        def atstart(self, received):
            if "atstart" in sys.argv:
                raise RuntimeError("no start for you")
            self.module_logger.info("first message: %r", received)

        def handle(self, received):
            if received == "boom":
                raise ValueError("handle exploded")
            print(repr(received), flush=True)

        def atexit(self, received):
            if "atexit" in sys.argv:
                raise OSError("atexit exploded")
            self.module_logger.warning("closing on %r", received)

    if __name__ == "__main__":
        log_file = sys.argv[sys.argv.index("--log") + 1] if "--log" in sys.argv else None
        Echo(log_file=log_file).service_loop()
""")

SEED_HANDLER = '''#!{python}
import logging
from tether.pipe import PipeHandler

module_logger = logging.getLogger(__file__)

class MySSHPipeHandler(PipeHandler):

    def __init__(self, *args, **kwargs):
        super(MySSHPipeHandler, self).__init__(*args, **kwargs)
        self.file = None

    def atstart(self, received):
        file = "{{}}{{}}".format(__file__, ".remote.log")
        self.module_logger.debug("Opening file: {{}}.".format(file))
        self.file = open(file, 'w')

    def atexit(self, received):
        if self.file is not None:
            self.file.close()
        super(MySSHPipeHandler, self).atexit(received)

    def handle(self, received):
        self.file.write(str(received))

if __name__ == '__main__':
    client = MySSHPipeHandler()
    client.service_loop()
'''

SEED_USAGE = '''
import os
import multiprocessing as mp
from tether.pipe import SshPipe

def run():
    agent_dir = {agent_dir!r}
    agentpy = os.path.join(agent_dir, "sshremotehandler.py")
    host = 'tether-test' # SSH config host name of remote server.

    sshagent = SshPipe(host, agentpy, config={config!r})
    sshagent.start()

    if not sshagent.is_alive():
        print("Agent not alive", sshagent.response())
        exit(1)

    sshagent.send("This is life.\\n")
    sshagent.send("This is also life.\\n")
    sshagent.send("This is yet another life.\\n")
    sshagent.send("That is all, life.\\n")
    sshagent.send("TERM")

    if not sshagent.is_alive():
        print(sshagent.response())
        exit()

    response = sshagent.close()
    if response:
        exitcode, stdout, stderr = response
    print('Response: ', response)

if __name__ == '__main__':
    mp.set_start_method('spawn')
    run()
'''


def test_seed_example_writes_the_messages_to_a_file_on_the_remote(sshd_server, tmp_path):
    handler = tmp_path / "sshremotehandler.py"
    handler.write_text(SEED_HANDLER.format(python=sys.executable))
    handler.chmod(0o755)
    usage = tmp_path / "sshremotehandlerusage.py"
    usage.write_text(SEED_USAGE.format(agent_dir=str(tmp_path), config=str(sshd_server.ssh_config)))
    done = subprocess.run([sys.executable, str(usage)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() in ("Response:  (0, '', '')", "(0, '', '')")
    written = (tmp_path / "sshremotehandler.py.remote.log").read_text()
    assert written == "This is life.\nThis is also life.\nThis is yet another life.\nThat is all, life.\n"


@pytest.fixture
def echo_script(tmp_path):
    path = tmp_path / "echo_handler.py"
    path.write_text(ECHO_HANDLER)
    return path


def _machine(kind, server):
    if kind == "putty" and not shutil.which("plink"):
        pytest.skip("plink (putty-tools) is not installed")
    cls = {"ssh": SshMachine, "native": NativeSshMachine, "putty": PuttyMachine}[kind]
    return cls(server.host, user=server.user, port=server.port, keyfile=server.client_key, known_hosts=server.known_hosts)


@pytest.mark.parametrize("kind", ["ssh", "native", "putty"])
def test_values_round_trip_on_every_machine(sshd_server, echo_script, kind):
    values = ["text", b"\x00\xffbytes", 42, 2**80, 1.5, None, True, [1, 2, 3], (1, "a"), {"k": {"n": [None]}}, {3, 4}]
    with _machine(kind, sshd_server) as machine:
        pipe = SshPipe(None, [sys.executable, str(echo_script)], machine=machine)
        pipe.start()
        assert pipe.is_alive()
        for value in values:
            pipe.send(value)
        code, out, err = pipe.close()
        assert not machine.closed  # a machine we passed in stays ours
    assert code == 0, err
    assert out.splitlines() == [repr(value) for value in values]


def test_default_machine_from_host_user_and_config(sshd_server, echo_script):
    pipe = SshPipe("tether-test", f"{sys.executable} {echo_script}", config=sshd_server.ssh_config)
    with pipe:
        pipe.send("hello there")
    assert pipe.response() == (0, "'hello there'\n", "")
    assert pipe._machine is None  # the machine it opened is closed with it


@pytest.fixture
def ssh(sshd_server):
    with _machine("ssh", sshd_server) as machine:
        yield machine


def _pipe(ssh, script, *args, **kwargs):
    return SshPipe(None, [sys.executable, str(script), *args], machine=ssh, **kwargs)


def test_handler_failure_ends_the_pipe_with_its_exit_code(ssh, echo_script):
    pipe = _pipe(ssh, echo_script)
    pipe.start()
    pipe.send("fine")
    pipe.send("boom")
    code, out, err = pipe.response(timeout=60)
    assert not pipe.is_alive()
    assert (code, out) == (EXIT_HANDLE, "'fine'\n")
    assert "ValueError: handle exploded" in err and "in handle" in err
    with pytest.raises(PipeError) as info:
        pipe.send("more")
    assert info.value.exitcode == EXIT_HANDLE and "handle exploded" in str(info.value)
    assert pipe.close() == (code, out, err)


@pytest.mark.parametrize(("where", "expected"), [("atstart", EXIT_ATSTART), ("atexit", EXIT_ATEXIT)])
def test_atstart_and_atexit_failures_have_their_own_codes(ssh, echo_script, where, expected):
    pipe = _pipe(ssh, echo_script, where)
    pipe.start()
    pipe.send("first")
    code, _, err = pipe.close()
    assert code == expected
    assert ("no start for you" if where == "atstart" else "atexit exploded") in err


def test_log_records_reach_the_caller_and_the_remote_log_file(ssh, echo_script, tmp_path):
    records: list[logging.LogRecord] = []
    logger = logging.getLogger("test.pipe.caller")
    logger.setLevel(logging.INFO)
    catcher = logging.Handler()
    catcher.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(catcher)
    log_file = tmp_path / "remote-handler.log"
    try:
        pipe = _pipe(ssh, echo_script, "--log", str(log_file), logger=logger)
        pipe.start()
        pipe.send("hi")
        assert pipe.close()[0] == 0
    finally:
        logger.removeHandler(catcher)
    messages = [(r.levelname, r.getMessage()) for r in records]
    assert messages == [("INFO", "first message: 'hi'"), ("WARNING", "closing on 'TERM'")]  # DEBUG filtered here
    assert records[0].process != os.getpid() and records[0].funcName == "atstart"
    written = log_file.read_text()
    assert "first message: 'hi'" in written and "closing on 'TERM'" in written and "loop ended with exit code 0" in written


def test_callback_runs_in_the_calling_process_and_no_signal_handler_is_installed(ssh, echo_script):
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    before = {sig: signal.getsignal(sig) for sig in signals}
    called = threading.Event()
    seen: list = []

    def callback(exitcode, stdout, stderr):
        seen.append((os.getpid(), exitcode, stdout))
        called.set()

    pipe = _pipe(ssh, echo_script, callback=callback)
    pipe.start()
    assert {sig: signal.getsignal(sig) for sig in signals} == before
    pipe.send([1, 2])
    pipe.close()
    assert called.wait(30)
    assert seen == [(os.getpid(), 0, "[1, 2]\n")]


def test_bad_messages_are_refused_before_anything_is_sent(ssh, echo_script):
    pipe = _pipe(ssh, echo_script)
    with pytest.raises(ClosedError, match="start"):
        pipe.send("early")
    pipe.start()
    with pytest.raises(CodecError, match="object"):
        pipe.send({"ok": object()})
    pipe.send("after")
    assert pipe.close() == (0, "'after'\n", "")
    with pytest.raises(ClosedError):
        pipe.start()


def test_a_program_that_is_not_a_handler_ends_the_pipe_clearly(ssh):
    pipe = SshPipe(None, ["sh", "-c", "echo not a frame stream; sleep 30"], machine=ssh)
    pipe.start()
    assert not pipe.is_alive()
    code, _, err = pipe.close()
    assert code != 0 and "does not speak the pipe protocol" in err


def test_a_handler_that_cannot_start_reports_its_exit(ssh, tmp_path):
    pipe = SshPipe(None, [sys.executable, str(tmp_path / "missing.py")], machine=ssh)
    pipe.start()
    assert not pipe.is_alive()
    code, out, err = pipe.close()
    assert code == 2 and "missing.py" in err


def test_start_timeout_stops_the_remote_command(ssh, tmp_path):
    marker = tmp_path / "silent-marker"
    pipe = SshPipe(None, ["sh", "-c", f"exec sleep 300 # {marker}"], machine=ssh)
    with pytest.raises(PipeStartTimeout):
        pipe.start(timeout=1)
    assert not pipe.is_alive()
    assert ssh.pgrep(str(marker)) == []


def test_nothing_leaks_fds_threads_or_remote_processes(ssh, echo_script):
    def fds():
        return len(os.listdir("/proc/self/fd"))

    pipe = _pipe(ssh, echo_script)  # warm up: the machine's own lazily made resources
    pipe.start()
    pipe.close()
    before_fds, before_threads = fds(), threading.active_count()
    closed_in_callback = []
    for args, message in ((["--x"], "fine"), (["--x"], "boom"), (["atstart"], "first")):
        pipe = _pipe(ssh, echo_script, *args)
        pipe.callback = lambda *_, own=pipe: closed_in_callback.append(own.close())
        pipe.start()
        pipe.send(message)
        pipe.close()
    assert len(closed_in_callback) == 3  # close() from the callback itself does not deadlock
    assert (fds(), threading.active_count()) == (before_fds, before_threads)
    assert ssh.pgrep(str(echo_script)) == []
