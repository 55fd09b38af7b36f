"""remoto's API (seed 002): Connection, connection.get, process.run/check.

The seed's examples run as written (tether imports) on three targets: this
host (a local connection), the sshd fixture (SshMachine) and a real podman
container.
"""

import contextlib
import logging
import os
import socket

import pytest

from tether import (
    CommandNotFound,
    Connection,
    PodmanMachine,
    ProcessExecutionError,
    ProcessTimedOut,
    connection,
)
from tether.process import check, run

TARGETS = ["local", "ssh", "podman"]


def open_connection(kind, request, **kwargs):
    if kind == "local":
        return Connection(socket.gethostname(), **kwargs)
    if kind == "ssh":
        server = request.getfixturevalue("sshd_server")
        # remoto's way to reach a host with options: an ssh_config alias
        return connection.get("ssh")("tether-test", ssh_options=f"-F {server.ssh_config}", **kwargs)
    return connection.get("podman")(container_name=request.getfixturevalue("podman_container"), **kwargs)


@pytest.fixture(scope="module", params=TARGETS)
def conn(request):
    with open_connection(request.param, request) as c:
        yield c


def records(caplog, conn):
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == conn.logger.name]


def test_seed_run_example(conn, caplog):
    caplog.set_level(logging.DEBUG)
    run(conn, ["whoami"])
    assert records(caplog, conn) == [("INFO", "Running command: whoami"), ("DEBUG", "root")]


def test_seed_ls_example_logs_every_entry(conn, caplog):
    caplog.set_level(logging.DEBUG)
    with conn.machine.tempdir() as d:
        conn.machine["touch"](str(d / ".bash_history"), str(d / ".ssh"))
        run(conn, ["ls", "-a"], cwd=str(d))
    assert records(caplog, conn) == [
        ("INFO", "Running command: ls -a"), ("DEBUG", "."), ("DEBUG", ".."), ("DEBUG", ".bash_history"),
        ("DEBUG", ".ssh"),
    ]


def test_seed_check_example(conn):
    out, err, rc = check(conn, ["ls", "/nonexistent/path"])
    assert out == [] and rc != 0
    assert len(err) == 1 and "/nonexistent/path" in err[0] and not err[0].endswith("\n")


def test_run_raises_on_failure_unless_told_not_to(conn, caplog):
    failing = ["sh", "-c", "echo out; echo err >&2; exit 3"]
    with pytest.raises(ProcessExecutionError) as info:
        run(conn, failing)
    assert info.value.retcode == 3 and info.value.stderr == "err\n" and info.value.host == conn.machine.host
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    assert run(conn, failing, stop_on_error=False) == 3
    assert records(caplog, conn)[1:] == [("DEBUG", "out"), ("ERROR", "err")]


def test_lines_are_logged_as_they_arrive(conn, caplog):
    # the command waits for a file that only the log handler creates on seeing
    # the first lines: if logging waited for the end, this would time out
    caplog.set_level(logging.DEBUG)
    with conn.machine.tempdir() as d:
        flag = d / "flag"

        class Release(logging.Handler):
            def emit(self, record):
                if record.getMessage() == "second":
                    flag.write("")

        handler = Release()
        conn.logger.addHandler(handler)
        try:
            script = 'echo first; echo second >&2; while [ ! -e "$1" ]; do sleep 0.05; done; echo third'
            run(conn, ["sh", "-c", script, "sh", str(flag)], timeout=30)
        finally:
            conn.logger.removeHandler(handler)
    assert [m for _, m in records(caplog, conn)][1:] == ["first", "second", "third"]


def test_check_takes_stdin_env_and_cwd(conn):
    script = 'cat; echo "$TETHER_X"; pwd'
    result = check(conn, ["sh", "-c", script], stdin="a\nb\n", env={"TETHER_X": "it's $y; `z`"}, cwd="/tmp")
    assert result == (["a", "b", "it's $y; `z`", "/tmp"], [], 0)


def test_arguments_arrive_intact(conn):
    tricky = ["a b", "it's", 'say "hi"', "x; echo INJECTED", "$(echo INJECTED)", "`id`", "two\nlines", "", "$HOME"]
    out, err, rc = check(conn, ["printf", "%s/", *tricky])
    assert ("\n".join(out), err, rc) == ("/".join(tricky) + "/", [], 0)


def test_no_line_is_ever_lost(conn):
    script = 'i=0; while [ $i -lt 100 ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done'
    expected_out = [f"out {i}" for i in range(100)]
    expected_err = [f"err {i}" for i in range(100)]
    for _ in range(40):
        assert check(conn, ["sh", "-c", script]) == (expected_out, expected_err, 0)


def test_timeout_kills_and_raises(conn):
    with pytest.raises(ProcessTimedOut):
        check(conn, ["sleep", "30"], timeout=0.5)


def test_sudo_prefix_sets_env_past_sudo(conn):
    # a stand-in sudo that, like sudo, starts the command with a reset environment
    m = conn.machine
    with m.tempdir() as d:
        m["sh"]("-c", 'printf \'#!/bin/sh\\necho "sudo ran $*" >&2\\nexec env -i PATH="$PATH" "$@"\\n\' >"$1"; chmod 755 "$1"',
                "sh", str(d / "sudo"))
        with m.env(PATH=f"{d}:{m.env['PATH']}"):
            conn.sudo = True
            try:
                out, err, rc = check(conn, ["sh", "-c", 'echo "$TETHER_S"'], env={"TETHER_S": "kept"})
            finally:
                conn.sudo = False
    assert (out, rc) == (["kept"], 0) and err[0].startswith("sudo ran env TETHER_S=kept sh -c")


def test_detect_sudo_asks_who_we_are(request, podman_container):
    as_nobody = connection.get("podman")(container_name=podman_container, user="nobody", detect_sudo=True)
    with as_nobody:
        assert as_nobody.sudo is True
        with pytest.raises(CommandNotFound, match="sudo"):  # the busybox image has no sudo: the prefix shows
            check(as_nobody, ["whoami"])
    with open_connection("local", request, detect_sudo=True) as as_root:
        assert as_root.sudo is False


def test_connection_choices():
    here = Connection(socket.gethostname())
    assert type(here.machine).__name__ == "LocalMachine"
    lazy = connection.get("podman")(container_name="not-started-yet", eager=False)
    assert "not connected" in repr(lazy)
    assert {name: connection.get(name).__name__ for name in connection.BACKENDS} == {
        "ssh": "Connection", "local": "LocalConnection", "docker": "DockerConnection",
        "podman": "PodmanConnection", "kubernetes": "KubernetesConnection", "openshift": "OpenshiftConnection",
    }
    with pytest.raises(ValueError, match="unknown connection backend 'vagrant'"):
        connection.get("vagrant")
    with pytest.raises(TypeError, match="list of arguments"):
        check(here, "ls -a")
    with pytest.raises(ValueError, match="container_name"):
        connection.get("docker")()
    with pytest.raises(ValueError, match="another host"):
        connection.get("docker")(hostname="elsewhere.example", container_name="web")


def test_docker_and_kubernetes_connections(podman_container, docker_host, monkeypatch, tmp_path):
    from pathlib import Path

    monkeypatch.setenv("DOCKER_HOST", docker_host)  # the docker CLI's own way to pick the daemon
    with connection.get("docker")(container_name=podman_container) as docker:
        assert check(docker, ["cat", "/etc/hostname"])[0] == check(docker, ["hostname"])[0]

    standin = str(Path(__file__).parent.parent / "standins" / "kubectl-standin")
    log = tmp_path / "argv.log"
    monkeypatch.setenv("TETHER_STANDIN_LOG", str(log))
    for kind in ("kubernetes", "openshift"):

        class Standin(connection.get(kind)):  # remoto's way to name the CLI: the class attribute
            executable = standin

        with Standin("web-0", namespace="shop", context="admin@prod") as pod:
            assert check(pod, ["echo", "a b"]) == (["a b"], [], 0)
        calls = log.read_bytes().split(b"\0")
        assert calls[1:7] == [b"--context=admin@prod", b"--namespace=shop", b"exec", b"-i", b"web-0", b"--"]
        log.unlink()


def test_a_failing_log_handler_stops_the_command(conn):
    marker = f"tether-handler-stop-{os.getpid()}"

    class Fail(logging.Handler):
        def emit(self, record):
            if record.getMessage() == "started":
                raise KeyboardInterrupt  # what ^C in a handler looks like

    handler = Fail()
    conn.logger.addHandler(handler)
    conn.logger.setLevel(logging.DEBUG)
    try:
        with pytest.raises(KeyboardInterrupt):
            run(conn, ["sh", "-c", "echo started; sleep 300; :", marker])
    finally:
        conn.logger.removeHandler(handler)
        conn.logger.setLevel(logging.NOTSET)
    assert not conn.machine.pgrep(marker)  # the command, and for ssh the client too (same host)


FOO = "import os\n\n\ndef listdir(path):\n    return os.listdir(path)\n"


def test_seed_import_module_example(conn, request, tmp_path, monkeypatch):
    (tmp_path / "tether_seed_foo.py").write_text(FOO)
    monkeypatch.syspath_prepend(str(tmp_path))
    import tether_seed_foo as foo

    with contextlib.ExitStack() as stack:
        if isinstance(conn.machine, PodmanMachine):  # the agent needs Python: the container lent the host's
            container = request.getfixturevalue("python_container")
            conn = stack.enter_context(connection.get("podman")(container_name=container))
        remote_foo = conn.import_module(foo)
        with conn.machine.tempdir() as d:
            conn.machine["touch"](str(d / ".profile"), str(d / "ceph"))
            assert sorted(remote_foo.listdir(str(d))) == [".profile", "ceph"]


def test_connection_interpreter_runs_the_remote_module(request, tmp_path, monkeypatch):
    """remoto's ``interpreter=``: the named Python serves import_module (a missing one is CommandNotFound, naming it)."""
    (tmp_path / "tether_seed_interp.py").write_text("import sys\n\n\ndef which():\n    return sys.executable\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import tether_seed_interp as interp

    server = request.getfixturevalue("sshd_server")
    options = f"-F {server.ssh_config}"
    with connection.get("ssh")("tether-test", ssh_options=options, interpreter="/usr/bin/python3") as conn:
        assert conn.import_module(interp).which() == "/usr/bin/python3"
    with connection.get("ssh")("tether-test", ssh_options=options, interpreter="/nonexistent/python") as conn:
        with pytest.raises(CommandNotFound, match="/nonexistent/python"):
            conn.import_module(interp)
