"""The three remote machines against the real sshd of the fixture: the seed guide's remote examples.

Every test runs on SshMachine (OpenSSH ControlMaster), NativeSshMachine
(asyncssh) and PuttyMachine (plink), through one API.
"""

import os
import shutil
import time

import pytest

from tether import (
    ERROUT,
    AuthenticationError,
    ClosedError,
    CommandNotFound,
    HostKeyError,
    NativeSshMachine,
    ProcessExecutionError,
    ProcessTimedOut,
    PuttyMachine,
    SshMachine,
    local,
)
from tether.paths.local import LocalPath

pytestmark = pytest.mark.sshd


MACHINES = {"ssh": SshMachine, "native": NativeSshMachine, "putty": PuttyMachine}


def connect(server, kind="ssh", **kwargs):
    if kind == "putty" and not shutil.which("plink"):
        pytest.skip("plink (putty-tools) is not installed")
    options = dict(user=server.user, port=server.port, keyfile=server.client_key, known_hosts=server.known_hosts)
    options.update(kwargs)
    return MACHINES[kind](server.host, **options)


@pytest.fixture(scope="module", params=list(MACHINES))
def rem(request, sshd_server):
    with connect(sshd_server, request.param) as machine:
        yield machine


def test_commands_resolve_and_run_remotely(rem):
    ls = rem["ls"]
    assert str(ls.executable).endswith("/ls") and rem.which("ls") == ls.executable
    assert rem["/bin/sh"]("-c", "echo $0") == "/bin/sh\n"
    assert rem.cmd.echo("a b'c", "$HOME", "`id`") == "a b'c $HOME `id`\n"
    assert "ls" in rem and "no-such-program-xyz" not in rem
    assert rem.get("no-such-program-xyz", "cat").executable == rem.which("cat")
    with pytest.raises(CommandNotFound):
        rem["no-such-program-xyz"]
    assert rem.uname == "Linux"


def test_exit_codes_and_errors_name_the_host(rem):
    with pytest.raises(ProcessExecutionError) as info:
        rem["sh"]("-c", "echo out; echo err >&2; exit 3")
    error = info.value
    assert (error.retcode, error.stdout, error.stderr) == (3, "out\n", "err\n")
    assert error.host == rem.host and "exit 3" in str(error)
    assert rem["sh"]["-c", "exit 4"].run(retcode=None)[0] == 4


def test_remote_pipeline_runs_remotely_with_pipefail(rem):
    assert (rem["printf"]["a\nb\nab\n"] | rem["grep"]["b"])() == "b\nab\n"
    assert (rem["yes"] | rem["head"]["-1"])() == "y\n"  # upstream SIGPIPE is not a failure
    with pytest.raises(ProcessExecutionError) as info:
        (rem["sh"]["-c", "exit 5"] | rem["cat"])()
    assert info.value.retcode == 5


def test_big_remote_pipeline_moves_nothing_through_this_process(rem, sshd_server):
    if sshd_server.kind == "embedded":
        # /proc/self/io counts the reads of children we reap, and the embedded
        # server's command processes are our children
        pytest.skip("the embedded server runs remote commands as our own children")
    before = _bytes_read_by_us()
    assert (rem["head"]["-c", "100000000", "/dev/zero"] | rem["wc"]["-c"])().strip() == "100000000"
    assert _bytes_read_by_us() - before < 1_000_000


def _bytes_read_by_us():
    # includes what our reaped children (the ssh client) read: the pipeline's
    # bytes would show up here if they passed through this machine's client
    with open("/proc/self/io") as f:
        return int(dict(line.split(": ") for line in f.read().splitlines())["rchar"])


def test_mixed_pipelines_stream_both_ways(rem):
    assert (rem["printf"]["x\ny\n"] | local["grep"]["y"])() == "y\n"
    assert (local["printf"]["x\ny\n"] | rem["grep"]["x"])() == "x\n"
    assert (local["seq"]["200000"] | rem["wc"]["-l"] | local["tr"]["-d", " "])() == "200000\n"
    with pytest.raises(ProcessExecutionError):
        (rem["sh"]["-c", "exit 2"] | local["cat"])()


def test_redirections_remote_and_local(rem, tmp_path):
    with rem.tempdir() as d:
        remote_file = d / "out.txt"
        (rem["echo"]["remote"] > remote_file)()
        assert remote_file.read() == "remote\n"
        (rem["echo"]["more"] >> str(remote_file))()
        assert (rem["cat"] < str(remote_file))() == "remote\nmore\n"
    local_file = LocalPath(tmp_path / "local.txt")
    (rem["echo"]["to local"] > local_file)()
    assert local_file.read() == "to local\n"
    assert (rem["cat"] << "from a string\n")() == "from a string\n"
    assert (rem["sh"]["-c", "echo e >&2"] >= ERROUT)() == "e\n"


def test_cwd_and_env_apply_to_every_command(rem):
    home = str(rem.cwd)
    with rem.cwd("/tmp"):
        assert rem["pwd"]() == "/tmp\n" and str(rem.cwd) == "/tmp"
        assert (rem.cwd / "x") == rem.path("/tmp/x")
    assert str(rem.cwd) == home
    with pytest.raises(ProcessExecutionError):
        rem.cwd.chdir("/no/such/dir")
    with rem.env(TETHER_X="it's $x", LANG="C"):
        assert rem["sh"]("-c", 'echo "$TETHER_X"') == "it's $x\n"
    assert rem["sh"]("-c", 'echo "${TETHER_X-unset}"') == "unset\n"
    with pytest.raises(ValueError):
        rem.env["BAD NAME"] = "1"
    assert rem.env.home is not None and rem.env.user in (rem.env.get("USER"), rem.env.get("LOGNAME"), None)


def test_nesting_quotes_at_every_depth(rem, sshd_server):
    tricky = "a b'c\"d$HOME`x`\\"
    sh = rem["sh"]
    assert sh["-c", sh["-c", rem["printf"]["%s", tricky]]]() == tricky
    # the seed's ssh-in-ssh: the inner ssh runs on the remote (this same host)
    ssh, config = local["ssh"], str(sshd_server.ssh_config)
    nested = ssh["-F", config, "tether-test", ssh["-F", config, "tether-test", local["printf"]["%s", tricky]]]
    assert nested() == tricky


def test_session_frames_exactly(rem):
    with rem.session() as s:
        assert s.run("cd /tmp && X=5") == (0, "", "")
        assert s.run("pwd; echo $X") == (0, "/tmp\n5\n", "")
        assert s.run("printf 'no newline'") == (0, "no newline", "")
        assert s.run("ls / | grep -c bin", retcode=None)[0] == 0
        assert s.run("echo e >&2; false", retcode=1) == (1, "", "e\n")


def test_timeout_and_kill_end_the_remote_process(rem):
    marker = f"tether-remote-{os.getpid()}"
    with pytest.raises(ProcessTimedOut):
        rem["bash"]["-c", f"exec -a {marker}-a sleep 300"](timeout=0.5)
    assert not rem.pgrep(f"{marker}-a")
    p = rem["bash"]["-c", f"exec -a {marker}-b sleep 300"].popen()
    time.sleep(0.3)
    p.kill()
    p.wait()
    assert not rem.pgrep(f"{marker}-b")


def test_processes_paths_and_tempdir(rem):
    assert any(p.args.startswith("sshd") for p in rem.list_processes())
    assert (rem.path("/bin") / "sh").is_file()
    assert rem.path("/etc") // "host*"
    with rem.tempdir() as d:
        (d / "a b").write("x")
        assert [p.name for p in d.list()] == ["a b"]
    assert not d.exists()


def test_iter_lines_and_background(rem):
    lines = list(rem["sh"]["-c", "echo 1; echo 2 >&2; echo 3"].iter_lines())
    assert ("1\n", None) in lines and (None, "2\n") in lines and ("3\n", None) in lines
    from tether import BG

    future = rem["sh"]["-c", "sleep 0.2; echo done"] & BG
    assert not future.ready()
    future.wait()
    assert future.returncode == 0 and future.stdout == "done\n"


@pytest.mark.parametrize("kind", list(MACHINES))
def test_close_then_use_raises_and_leaves_nothing(sshd_server, kind):
    marker = f"tether-close-{kind}-{os.getpid()}"
    machine = connect(sshd_server, kind)
    machine["bash"]["-c", f"exec -a {marker} sleep 300"].popen()
    time.sleep(0.3)
    machine.close()
    machine.close()  # twice is fine
    with pytest.raises(ClosedError):
        machine["ls"]()
    with connect(sshd_server, kind) as other:
        assert not other.pgrep(marker)  # what was running died with the connection


def test_ssh_machine_control_socket_is_removed(sshd_server):
    machine = connect(sshd_server)
    control = machine.control_path
    assert os.path.exists(control)
    machine.close()
    assert not os.path.exists(control)


def test_connect_url_gives_a_native_machine(sshd_server):
    from tether import connect as connect_url

    url = f"ssh://{sshd_server.user}@{sshd_server.host}:{sshd_server.port}"
    with connect_url(url, keyfile=sshd_server.client_key, known_hosts=sshd_server.known_hosts) as machine:
        assert isinstance(machine, NativeSshMachine) and machine["echo"]("hi") == "hi\n"
    with pytest.raises(ValueError, match="password"):
        connect_url("ssh://u:secret@h")


@pytest.mark.parametrize("kind", ["ssh", "native"])
def test_host_key_mismatch_and_bad_key_are_clear(sshd_server, tmp_path, kind):
    wrong = tmp_path / "known_hosts"
    key = local["ssh-keygen"]
    key("-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other"))
    other = (tmp_path / "other.pub").read_text().split()[:2]
    wrong.write_text(f"[{sshd_server.host}]:{sshd_server.port} {' '.join(other)}\n")
    with pytest.raises(HostKeyError, match="known_hosts"):
        connect(sshd_server, kind, known_hosts=wrong)
    with pytest.raises(AuthenticationError):
        connect(sshd_server, kind, keyfile=tmp_path / "other")


def test_putty_refuses_a_host_key_it_cannot_verify(sshd_server, tmp_path):
    local["ssh-keygen"]("-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other"))
    other = (tmp_path / "other.pub").read_text().split()[:2]
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[{sshd_server.host}]:{sshd_server.port} {' '.join(other)}\n")
    with pytest.raises(HostKeyError):
        connect(sshd_server, "putty", known_hosts=wrong)


CHILD = """
import os, sys, time
import tether
kind, host, port, user, key, known, marker = sys.argv[1:]
cls = {"ssh": tether.SshMachine, "native": tether.NativeSshMachine, "putty": tether.PuttyMachine}[kind]
rem = cls(host, user=user, port=int(port), keyfile=key, known_hosts=known)
rem["bash"]["-c", f"exec -a {marker} sleep 300"].popen()
while not rem.pgrep(marker):
    time.sleep(0.05)
print("started", flush=True)
os.kill(os.getpid(), 9)  # die without closing anything
"""


@pytest.mark.parametrize("kind", list(MACHINES))
def test_remote_commands_die_when_the_controller_dies(sshd_server, kind, tmp_path):
    if kind == "putty" and not shutil.which("plink"):
        pytest.skip("plink (putty-tools) is not installed")
    marker = f"tether-orphan-{kind}-{os.getpid()}"
    s = sshd_server
    args = [kind, s.host, str(s.port), s.user, str(s.client_key), str(s.known_hosts), marker]
    rc, out, _ = local.python[("-c", CHILD, *args)].run(retcode=None, timeout=60)
    assert rc == -9 and "started" in out
    with connect(sshd_server, kind) as machine:
        deadline = time.monotonic() + 10
        while machine.pgrep(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not machine.pgrep(marker)


def test_popen_exposes_the_remote_pid_and_signals_reach_it(rem):
    import signal

    p = rem["sh"]["-c", "echo $$; exec sleep 300"].popen()
    first = p.stdout.readline().decode()
    # the remote pid, not the local client's: the command itself, or (where the
    # login shell does not exec the last command) the shell leading its group
    group = rem["ps"]("-o", "pgid=", "-p", first.strip()).strip()
    assert p.pid in (int(first), int(group))
    p.send_signal(signal.SIGTERM)
    # asyncssh reports -15; ssh says 255, plink 128 or 255, a shell that did not exec 143:
    # what they agree on is failure, and the process being gone (checked below)
    assert p.wait() != 0
    deadline = time.monotonic() + 5  # the client may report before the remote process is reaped
    while [proc for proc in rem.list_processes() if proc.pid == int(first)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [proc for proc in rem.list_processes() if proc.pid == int(first)]


def test_gigabyte_of_remote_output_through_popen_in_bounded_memory(rem):
    import resource

    p = rem["head"]["-c", str(1 << 30), "/dev/zero"].popen()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    total = 0
    while chunk := p.stdout.read(1 << 16):
        total += len(chunk)
    assert total == 1 << 30 and p.wait() == 0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024  # KiB


def test_stderr_past_pipe_buffers_does_not_hang(rem):
    rc, out, err = rem["sh"]["-c", "head -c 3000000 /dev/zero | tr '\\0' e >&2; echo done"].run(timeout=60)
    assert (rc, out, len(err)) == (0, "done\n", 3_000_000)


@pytest.mark.parametrize("kind", ["ssh", "native"])
def test_500_concurrent_commands_queue_for_channels_and_all_succeed(stock_sshd, kind):
    from concurrent.futures import ThreadPoolExecutor

    with connect(stock_sshd, kind) as machine:
        echo = machine["echo"]
        with ThreadPoolExecutor(64) as pool:
            results = list(pool.map(lambda i: echo(i), range(500)))
        assert results == [f"{i}\n" for i in range(500)]
        with machine.session() as s:  # sessions count against the limit too, and are freed
            assert s.run("echo ok") == (0, "ok\n", "")


@pytest.mark.parametrize("kind", list(MACHINES))
def test_pinned_host_key_is_the_only_one_accepted(sshd_server, tmp_path, kind):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with connect(sshd_server, kind, known_hosts=empty, host_key=sshd_server.host_public_key) as machine:
        assert machine["echo"]("pinned") == "pinned\n"
    local["ssh-keygen"]("-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other"))
    other = (tmp_path / "other.pub").read_text()
    with pytest.raises(HostKeyError):
        connect(sshd_server, kind, known_hosts=empty, host_key=other)
    with pytest.raises(ValueError, match="host_key"):
        connect(sshd_server, kind, host_key="not a key")


@pytest.mark.parametrize("kind", ["ssh", "native"])
def test_unknown_host_is_refused_unless_accept_new(sshd_server, tmp_path, kind):
    known = tmp_path / "known_hosts"
    known.write_text("")
    with pytest.raises(HostKeyError, match="accept-new"):
        connect(sshd_server, kind, known_hosts=known)
    with connect(sshd_server, kind, known_hosts=known, host_key_policy="accept-new") as machine:
        assert machine["echo"]("new") == "new\n"
    assert sshd_server.host_public_key.split()[1] in known.read_text()  # recorded...
    with connect(sshd_server, kind, known_hosts=known) as machine:  # ...and trusted from now on
        assert machine["echo"]("known") == "known\n"


@pytest.mark.parametrize("name", ["-oProxyCommand=id", "host;id", "a b", "$(id)", ""])
def test_host_and_user_names_that_could_inject_are_refused(sshd_server, name):
    with pytest.raises(ValueError, match="invalid host name"):
        SshMachine(name)
    with pytest.raises(ValueError, match="invalid user name"):
        NativeSshMachine("localhost", user=name or "-x")


@pytest.fixture(scope="module")
def password_server(tmp_path_factory):
    from tether.testing import start_embedded_server

    with start_embedded_server(tmp_path_factory.mktemp("password-sshd"), password="correct horse") as server:
        yield server


@pytest.mark.parametrize("kind", list(MACHINES))
def test_password_login_never_shows_the_password(password_server, kind):
    marker = "correct horse"
    options = dict(user=password_server.user, port=password_server.port, known_hosts=password_server.known_hosts)
    if kind == "putty" and not shutil.which("plink"):
        pytest.skip("plink (putty-tools) is not installed")
    with MACHINES[kind](password_server.host, password=marker, **options) as machine:
        assert machine["echo"]("in") == "in\n"
        # not on any command line of this host, not in our environment
        assert not [p for p in local.list_processes() if marker in p.args]
        assert marker not in repr(machine)
    start = time.monotonic()
    with pytest.raises(AuthenticationError) as info:
        MACHINES[kind](password_server.host, password="wrong", **options)
    assert time.monotonic() - start < 10 and "wrong" not in str(info.value)


@pytest.mark.parametrize("kind", ["ssh", "native"])
def test_async_remote_machines(sshd_server, kind):
    import asyncio

    import tether.aio

    cls = {"ssh": tether.aio.SshMachine, "native": tether.aio.NativeSshMachine}[kind]
    s = sshd_server

    async def main():
        async with cls(s.host, user=s.user, port=s.port, keyfile=s.client_key, known_hosts=s.known_hosts) as rem:
            echoed = await asyncio.gather(*(rem["echo"](i) for i in range(20)))
            piped = await (rem["printf"]["a\nb\n"] | rem["grep"]["b"])()
            rc = await rem["sh"]["-c", "exit 3"].run(retcode=None)
            return echoed, piped, rc[0]

    echoed, piped, rc = asyncio.run(main())
    assert echoed == [f"{i}\n" for i in range(20)] and piped == "b\n" and rc == 3


@pytest.mark.parametrize("kind", list(MACHINES))
def test_an_ssh_config_alias_means_the_same_host_on_every_machine(sshd_server, tmp_path, kind):
    if kind == "putty" and not shutil.which("plink"):
        pytest.skip("plink (putty-tools) is not installed")
    s = sshd_server
    config = tmp_path / "config"
    config.write_text(
        "# written by the test\n"
        "Host tether-alias\n"
        f"    HostName {s.host}\n    Port {s.port}\n    User {s.user}\n"
        f"    IdentityFile {s.client_key}\n    UserKnownHostsFile {s.known_hosts}\n"
        "    IdentitiesOnly yes\n"
    )
    with MACHINES[kind]("tether-alias", ssh_config=config) as machine:
        assert machine["echo"]("via alias") == "via alias\n"


def test_native_machine_through_a_jump_host(sshd_server):
    s = sshd_server
    options = dict(user=s.user, port=s.port, keyfile=s.client_key, known_hosts=s.known_hosts)
    with NativeSshMachine(s.host, **options) as jump, NativeSshMachine(s.host, jump=jump, **options) as rem:
        assert rem["echo"]("through the jump host") == "through the jump host\n"
        assert rem.aio.connection is not jump.aio.connection
