"""Container machines against a real podman container, and the real docker CLI on podman's socket.

One busybox container serves the whole session (``podman_container``);
``docker_host`` is podman's Docker-compatible service, so DockerMachine
drives the real ``docker`` CLI. Every test runs through both.
"""

import os
import time

import pytest

from tether import (
    ClosedError,
    CommandNotFound,
    ConnectError,
    DockerMachine,
    PodmanMachine,
    ProcessExecutionError,
    ProcessTimedOut,
    local,
)
from tether.paths.local import LocalPath

# what remoto's `' '.join(cmd)` would mangle: every one must arrive as sent
TRICKY = [
    "a b", "it's", 'say "hi"', "x; echo INJECTED", "$(echo INJECTED)", "`echo INJECTED`", "line1\nline2",
    "back\\slash", "-n", "", "ünïcödé", "*", "$HOME", "tab\there", "#not a comment", "a|b&c>d<e", "~",
]


@pytest.fixture(scope="module", params=["podman", "docker"])
def box(request, podman_container):
    if request.param == "podman":
        machine = PodmanMachine(podman_container)
    else:
        machine = DockerMachine(podman_container, docker_host=request.getfixturevalue("docker_host"))
    with machine:
        yield machine


def test_commands_resolve_and_run_in_the_container(box, podman_container):
    assert box.which("ls") == box["ls"].executable and str(box.which("ls")) == "/bin/ls"
    assert box["cat"]("/etc/hostname").strip() == box["hostname"]().strip()
    assert "busybox" in box["ls"]("-l", "/bin/sh")  # the image's shell, not this host's
    assert box.uname == "Linux" and box.host == podman_container
    with pytest.raises(CommandNotFound) as info:
        box["no-such-program-xyz"]
    assert info.value.host == podman_container


def test_arguments_arrive_intact(box):
    out = box["printf"]("%s\\0", *TRICKY)
    assert out.split("\0")[:-1] == TRICKY
    assert "INJECTED" not in box["echo"](*TRICKY).replace("echo INJECTED", "")
    with pytest.raises(ValueError, match="NUL"):
        box["echo"]("a\0b")


def test_exit_codes_and_errors_name_the_container(box, podman_container):
    with pytest.raises(ProcessExecutionError) as info:
        box["sh"]("-c", "echo out; echo err >&2; exit 3")
    error = info.value
    assert (error.retcode, error.stdout, error.stderr) == (3, "out\n", "err\n")
    assert error.host == podman_container and podman_container in str(error)


def test_pipelines_run_in_the_container_and_across(box):
    assert (box["printf"]["a\nb\nab\n"] | box["grep"]["b"])() == "b\nab\n"
    with pytest.raises(ProcessExecutionError) as info:
        (box["sh"]["-c", "exit 5"] | box["cat"])()
    assert info.value.retcode == 5
    assert (local["printf"]["x\ny\n"] | box["grep"]["x"] | local["tr"]["x", "z"])() == "z\n"


def test_cwd_env_and_redirections(box, tmp_path):
    with box.cwd("/tmp"):
        assert box["pwd"]() == "/tmp\n"
    with box.env(TETHER_X="it's $x; `y`"):
        assert box["sh"]("-c", 'echo "$TETHER_X"') == "it's $x; `y`\n"
    assert box["sh"]("-c", 'echo "${TETHER_X-unset}"') == "unset\n"
    with box.tempdir() as d:
        (box["echo"]["inside"] > d / "f")()
        assert (d / "f").read() == "inside\n"
        assert (box["cat"] << "from here\n")() == "from here\n"
    local_file = LocalPath(tmp_path / "out.txt")
    (box["echo"]["to local"] > local_file)()
    assert local_file.read() == "to local\n"


def test_session_keeps_state(box):
    with box.session() as s:
        assert s.run("cd /etc && X='a b'") == (0, "", "")
        assert s.run('pwd; echo "$X"') == (0, "/etc\na b\n", "")
        assert s.run("echo e >&2; false", retcode=1) == (1, "", "e\n")


def test_paths_through_the_shell(box):
    etc = box.path("/etc")
    assert (etc / "passwd").is_file() and "root:x:0:0" in (etc / "passwd").read()
    assert etc // "pass*" == [etc / "passwd"]
    with box.tempdir() as d:
        (d / "a b").write("x")
        assert [p.name for p in d.list()] == ["a b"]
    assert not d.exists()


def test_upload_and_download_keep_bytes_and_modes(box, tmp_path):
    data = os.urandom(1 << 20) + b"\x00end"
    src = tmp_path / "blob file.bin"
    src.write_bytes(data)
    src.chmod(0o640)
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "run.sh").write_text("#!/bin/sh\necho ran\n")
    (tree / "sub" / "run.sh").chmod(0o755)
    with box.tempdir() as d:
        uploaded = box.upload(src, d)
        assert box["stat"]("-c", "%a %s", str(uploaded)).split() == ["640", str(len(data))]
        back = box.download(uploaded, tmp_path / "back.bin")
        assert back.read(None) == data and back.stat().st_mode & 0o777 == 0o640
        box.upload(tree, d)
        assert box["sh"](str(d / "tree" / "sub" / "run.sh")) == "ran\n"
        out = tmp_path / "out"
        out.mkdir()
        assert (box.download(d / "tree", out) / "sub" / "run.sh").read_text().endswith("echo ran\n")
        assert sorted(p.name for p in d.list()) == ["blob file.bin", "tree"]  # no temp names left
    with pytest.raises(FileNotFoundError, match="nothing to download"):
        box.download("/no/such/file", tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_nohup_outlives_the_machine(box, podman_container):
    from tether import NOHUP

    with box.tempdir() as d:
        done = d / "done"
        job = box["sh"]["-c", 'sleep 1; echo survived > "$0"', str(done)] & NOHUP
        job.wait()
        with PodmanMachine(podman_container) as other:  # the first machine's commands are long gone
            deadline = time.monotonic() + 10
            while not (other.path(str(done))).exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert other["cat"](str(done)) == "survived\n"


def test_timeout_ends_the_process_inside_the_container(box):
    marker = f"tether-ctimeout-{os.getpid()}"
    with pytest.raises(ProcessTimedOut):
        box["sh"]["-c", "sleep 300; :", marker](timeout=1)
    deadline = time.monotonic() + 5
    while box.pgrep(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not box.pgrep(marker)


def test_user_runs_commands_as_that_user(podman_container, request):
    with PodmanMachine(podman_container, user="nobody") as nobody:
        assert nobody["id"]("-u") == "65534\n"
        with pytest.raises(ProcessExecutionError):
            nobody["touch"]("/root/forbidden")
    with DockerMachine(podman_container, user="65534", docker_host=request.getfixturevalue("docker_host")) as box:
        assert box["id"]("-u") == "65534\n"


@pytest.mark.parametrize("name", ["--privileged", "-it", "a b", "x;id", "$(id)", "", "a/b"])
def test_container_names_that_could_inject_are_refused(name):
    with pytest.raises(ValueError, match="invalid container name"):
        PodmanMachine(name)
    with pytest.raises(ValueError, match="invalid container name"):
        DockerMachine(name)


def test_user_names_that_could_inject_are_refused(podman_container):
    for user in ("-u0", "root --privileged", "$(id)", ""):
        with pytest.raises(ValueError, match="invalid container user"):
            PodmanMachine(podman_container, user=user)


def test_missing_container_and_missing_tool_are_clear(podman_container):  # (needs podman itself)
    before = _our_children()
    with pytest.raises(ConnectError, match="podman container no-such-ctr") as info:
        PodmanMachine("no-such-ctr")
    assert "no such container" in str(info.value)
    with pytest.raises(ConnectError, match="not an executable"):
        PodmanMachine("web", podman_command="/no/such/podman")
    assert _our_children() <= before  # no client process left behind


def _our_children():
    children = set()
    for task in os.listdir(f"/proc/{os.getpid()}/task"):
        with open(f"/proc/{os.getpid()}/task/{task}/children") as f:
            children.update(int(pid) for pid in f.read().split())
    return children


def test_close_then_use_is_refused_and_kills_what_ran(podman_container):
    marker = f"tether-cclose-{os.getpid()}"
    machine = PodmanMachine(podman_container)
    machine["sh"]["-c", "sleep 300; :", marker].popen()
    deadline = time.monotonic() + 5
    while not machine.pgrep(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert machine.pgrep(marker)
    machine.close()
    with pytest.raises(ClosedError):
        machine["ls"]()
    with PodmanMachine(podman_container) as other:
        deadline = time.monotonic() + 5
        while other.pgrep(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not other.pgrep(marker)


def test_async_core(podman_container):
    import asyncio

    import tether.aio

    async def main():
        async with tether.aio.PodmanMachine(podman_container) as box:
            return await asyncio.gather(*(box["echo"](i) for i in range(5)))

    assert asyncio.run(main()) == [f"{i}\n" for i in range(5)]


CHILD = """
import os, sys, time
import tether
container, marker = sys.argv[1:]
box = tether.PodmanMachine(container)
box["sh"]["-c", "sleep 300; :", marker].popen()
while not box.pgrep(marker):
    time.sleep(0.05)
print("started", flush=True)
os.kill(os.getpid(), 9)  # die without closing anything
"""


def test_commands_in_the_container_die_when_the_controller_dies(podman_container):
    marker = f"tether-corphan-{os.getpid()}"
    rc, out, _ = local.python[("-c", CHILD, podman_container, marker)].run(retcode=None, timeout=60)
    assert rc == -9 and "started" in out
    with PodmanMachine(podman_container) as box:
        deadline = time.monotonic() + 10
        while box.pgrep(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not box.pgrep(marker)
