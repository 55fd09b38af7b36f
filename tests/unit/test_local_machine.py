"""The local machine running real processes: the seed guide's local examples and beyond."""

import os
import resource
import signal
import sys
import time

import pytest

from tether import (
    BG,
    BY_TYPE,
    ERROUT,
    FG,
    NOHUP,
    RETCODE,
    TEE,
    TF,
    CommandNotFound,
    ProcessExecutionError,
    ProcessLineTimedOut,
    ProcessTimedOut,
    ShellSessionError,
    local,
)
from tether.cmd import cat, echo, grep, ls, sh, wc

PY = local.python


def test_call_returns_stdout_and_run_returns_the_triple():
    assert echo("hello", "it's") == "hello it's\n"
    assert sh["-c", "echo out; echo err >&2; exit 3"].run(retcode=3) == (3, "out\n", "err\n")


def test_unexpected_exit_code_raises_with_fields():
    with pytest.raises(ProcessExecutionError) as info:
        sh("-c", "echo bad >&2; exit 4")
    err = info.value
    assert err.retcode == 4 and err.stderr == "bad\n" and err.argv[-1] == "echo bad >&2; exit 4"
    assert err.host is None


@pytest.mark.parametrize("retcode, ok", [(None, True), ((0, 4), True), (range(3, 5), True), (1, False)])
def test_retcode_accepts_int_iterable_or_none(retcode, ok):
    run = lambda: sh["-c", "exit 4"].run(retcode=retcode)
    if ok:
        assert run()[0] == 4
    else:
        with pytest.raises(ProcessExecutionError):
            run()


def test_pipeline_streams_and_reports_the_failing_stage():
    assert (local["printf"]["a\nb\nc\n"] | grep["b"])() == "b\n"
    with pytest.raises(ProcessExecutionError) as info:
        (sh["-c", "echo x; exit 7"] | cat | wc["-l"])()
    assert info.value.retcode == 7 and "stage 1 of 3" in str(info.value)
    # pipefail: the rightmost failure decides the code
    assert (sh["-c", "exit 2"] | sh["-c", "cat; exit 3"]).run(retcode=None)[0] == 3


def test_upstream_killed_by_sigpipe_is_not_a_failure():
    assert (local["yes"] | local["head"]["-n", "2"])() == "y\ny\n"


def test_pipeline_stderr_from_all_stages_is_collected():
    rc, out, err = (sh["-c", "echo one >&2; echo data"] | sh["-c", "cat; echo two >&2"]).run()
    assert out == "data\n" and sorted(err.split()) == ["one", "two"]


def test_redirections(tmp_path):
    target = tmp_path / "out file.txt"
    (echo["first"] > target)()
    (echo["second"] >> str(target))()
    assert target.read_text() == "first\nsecond\n"
    assert (cat < target)() == "first\nsecond\n"
    assert (cat << "from a string")() == "from a string"
    assert (cat << b"\x00\xff bytes").popen().stdout.read() == b"\x00\xff bytes"
    (sh["-c", "echo e >&2"] >= tmp_path / "err")()
    assert (tmp_path / "err").read_text() == "e\n"
    assert (sh["-c", "echo o; echo e >&2"] >= ERROUT).run() == (0, "o\ne\n", "")


def test_env_and_cwd(tmp_path):
    assert local["printenv"]["FOO"].with_env(FOO="a b $c")() == "a b $c\n"
    with local.env(BAR="1"):
        assert local.env["BAR"] == "1"
        assert local["printenv"]("BAR") == "1\n"
    assert "BAR" not in local.env
    assert local["pwd"].with_cwd(tmp_path)() == f"{tmp_path}\n"
    before = str(local.cwd)
    with local.cwd(tmp_path):
        assert str(local.cwd) == str(tmp_path) and local["pwd"]() == f"{tmp_path}\n"
        assert str(local.cwd / "x") == f"{tmp_path}/x"
    assert str(local.cwd) == before


def test_env_path_edits_write_back_to_PATH(tmp_path):
    script = tmp_path / "hello-tether"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    with local.env():
        local.env.path.insert(0, tmp_path)
        assert local.env["PATH"].startswith(f"{tmp_path}:")
        assert local["hello-tether"]() == "hi\n"
        assert local.cmd.hello_tether() == "hi\n"
    assert "hello-tether" not in local
    assert local.env.home and local.env.user


def test_modifiers(tmp_path, capfd):
    assert (local["true"] & TF) is True and (local["false"] & TF) is False
    assert local["false"] & TF(1)
    assert sh["-c", "exit 5"] & RETCODE == 5
    sh["-c", "echo to-terminal"] & FG
    assert capfd.readouterr().out == "to-terminal\n"
    rc, out, err = sh["-c", "echo teed; echo e >&2"] & TEE
    assert (rc, out, err) == (0, "teed\n", "e\n")
    captured = capfd.readouterr()
    assert captured.out == "teed\n" and captured.err == "e\n"
    with pytest.raises(ProcessExecutionError):
        local["false"] & FG


def test_bg_future():
    future = sh["-c", "sleep 0.2; echo done"] & BG
    assert not future.ready()
    assert future.wait() == (0, "done\n", "")
    assert future.stdout == "done\n" and future.returncode == 0
    failing = sh["-c", "exit 3"] & BG
    with pytest.raises(ProcessExecutionError):
        failing.wait()


def test_nohup_detaches_and_writes_to_file(tmp_path):
    proc = sh["-c", "echo detached; echo err >&2"] & NOHUP(cwd=str(tmp_path))
    deadline = time.time() + 10
    while proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert os.getsid(proc.pid) == proc.pid if proc.poll() is None else True
    assert (tmp_path / "nohup.out").read_text() == "detached\nerr\n"


def test_timeout_kills_the_whole_process_group():
    marker = f"tether-timeout-{os.getpid()}"
    start = time.monotonic()
    with pytest.raises(ProcessTimedOut) as info:
        local["bash"]("-c", f"sleep 300 & exec -a {marker} sleep 300", timeout=0.5)
    assert isinstance(info.value, TimeoutError)
    assert time.monotonic() - start < 5
    time.sleep(0.2)
    assert not local.pgrep(marker)
    assert local["pgrep"]["-f", "sleep 300"].run(retcode=None)[0] in (0, 1)


def test_popen_streams_and_signals():
    p = cat.popen()
    p.stdin.write(b"abc\n")
    p.stdin.close()
    assert p.stdout.read() == b"abc\n" and p.wait() == 0
    p = local["sleep"].popen(["30"])
    assert p.pid and p.poll() is None
    p.send_signal(signal.SIGTERM)
    assert p.wait() == -signal.SIGTERM


def test_iter_lines_interleaves_and_times_out():
    lines = list(sh["-c", "echo 1; sleep 0.05; echo 2 >&2; sleep 0.05; echo 3"].popen().iter_lines())
    assert lines == [("1\n", None), (None, "2\n"), ("3\n", None)]
    assert list(sh["-c", "echo a >&2"].iter_lines(mode=BY_TYPE)) == [(2, "a\n")]
    with pytest.raises(ProcessLineTimedOut):
        for _ in sh["-c", "echo first; sleep 30"].iter_lines(line_timeout=0.3):
            pass


def test_bgrun_waits_and_checks_on_exit():
    with sh["-c", "sleep 0.1; exit 0"].bgrun() as p:
        assert p.pid
    with pytest.raises(ProcessExecutionError), sh["-c", "exit 2"].bgrun():
        pass


def test_missing_programs_and_bad_paths_are_clear():
    with pytest.raises(CommandNotFound):
        local["/no/such/program"]
    with pytest.raises(FileNotFoundError, match="working directory"):
        ls.with_cwd("/no/such/dir")()


def test_large_output_on_both_pipes_does_not_deadlock():
    code = "import sys; sys.stdout.write('o'*3_000_000); sys.stderr.write('e'*3_000_000)"
    rc, out, err = PY["-c", code].run()
    assert len(out) == len(err) == 3_000_000


def test_gigabyte_pipeline_runs_in_bounded_memory():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    size = 1 << 30
    assert (local["head"]["-c", size, "/dev/zero"] | wc["-c"])().strip() == str(size)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 64 * 1024


def test_gigabyte_through_popen_in_bounded_memory():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    p = local["head"]["-c", 256 << 20, "/dev/zero"].popen()
    total = 0
    while chunk := p.stdout.read(1 << 16):
        total += len(chunk)
    assert total == 256 << 20 and p.wait() == 0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024


def test_session_keeps_state_and_frames_exactly():
    with local.session() as s:
        assert s.run("cd /tmp && X=5") == (0, "", "")
        assert s.run("pwd; echo $X") == (0, "/tmp\n5\n", "")
        assert s.run("printf 'no newline'") == (0, "no newline", "")
        assert s.run("printf err >&2; exit_code() { return 7; }; exit_code", retcode=7) == (7, "", "err")
        assert s.run("ls | grep -c .", retcode=None)[0] == 0
        rc, out, err = s.run("if then", retcode=None)
        assert rc == 2 and "then" in err
        assert s.run("echo still alive") == (0, "still alive\n", "")
        with pytest.raises(ProcessExecutionError):
            s.run("false")
        with pytest.raises(ShellSessionError):
            s.run("exit 3")
        assert not s.alive


def test_list_processes_and_pgrep_see_ourselves():
    me = [p for p in local.list_processes() if p.pid == os.getpid()]
    assert me and "python" in me[0].args
    assert any(p.pid == os.getpid() for p in local.pgrep(r"pytest|python"))


def test_tempdir_and_paths():
    with local.tempdir() as tmp:
        (tmp / "f").write("x")
        assert (tmp / "f").read() == "x" and tmp.is_dir()
    assert not tmp.exists()
    assert local.python("-c", "import sys; print(sys.version_info[0])") == "3\n"
    assert local.path("a") == local.cwd / "a"
    assert sys.executable in str(local.python)


def test_interrupting_a_blocking_run_kills_the_command():
    marker = f"tether-interrupt-{os.getpid()}"

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        with pytest.raises(KeyboardInterrupt):
            local["bash"]["-c", f"exec -a {marker} sleep 300"]()
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert not local.pgrep(marker)


def test_session_honours_timeout_and_keeps_stdin_for_itself():
    with local.session() as s:
        assert s.run("cat; echo after") == (0, "after\n", "")  # cat reads /dev/null, not our protocol
        marker = f"tether-session-{os.getpid()}"
        with pytest.raises(ProcessTimedOut):
            s.run(f"bash -c 'exec -a {marker} sleep 300'", timeout=0.2)
        assert not s.alive and not local.pgrep(marker)
