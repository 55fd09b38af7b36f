"""Every error class round-trips through pickle with its fields, and sits in the tree."""

import pickle

import pytest

from tether import exceptions as exc

SAMPLES = [
    exc.TetherError("plain"),
    exc.CommandLineError("bad argv"),
    exc.RedirectionError("twice"),
    exc.CommandNotFound("frobnicate", ["/bin", "/usr/bin"], "host1"),
    exc.ProcessExecutionError(["ls", "-l", "a b"], 2, "out\n", "err line\n", "host1"),
    exc.ProcessTimedOut(["sleep", "9"], 1.5, "partial", "", None),
    exc.ProcessLineTimedOut(["tail", "-f", "x"], 0.5, "", "", "h"),
    exc.ShellSessionError("died"),
    exc.ConnectError("connection refused", "h"),
    exc.AuthenticationError("permission denied", "h"),
    exc.HostKeyError("unknown host key", "h"),
    exc.TunnelError("port 6666 is in use", "h"),
    exc.ClosedError("closed"),
    exc.PortalError("wrong thread"),
    exc.DependencyError("tether needs asyncssh >=2.23.1,<3", "asyncssh", "3.0.0", ">=2.23.1,<3"),
    exc.PipeError("handler ended", "pipe1", 5, "Traceback...\nValueError: boom\n"),
    exc.PipeStartTimeout("no ready report within 5 s", "pipe2"),
    exc.NetworkError("broker gone"),
    exc.CertificateError("fingerprint mismatch", "h"),
    exc.FrameError("line too long"),
    exc.RemoteError("ZeroDivisionError: division by zero", "ZeroDivisionError", ["Traceback", "  x"], "S"),
    exc.RequestTimedOut("S.power", 2.0),
    exc.TransferError("writing /x on h: the remote side stopped reading", "h"),
    exc.SshConfigError("config line 3: keyword port extra arguments at end of line"),
    exc.HostBlockNotFound("no Host block with pattern 'web*'"),
    exc.AgentError("the agent exited (exit code 1)", "h"),
    exc.FrameTooLarge(17 << 20, 16 << 20, "send"),
    exc.ChannelClosed("no more items"),
    exc.RemoteCallError("foo.MyError", "bad", "Traceback ...", "h", ("bad",)),
]


@pytest.mark.parametrize("error", SAMPLES, ids=lambda e: type(e).__name__)
def test_pickle_round_trip_keeps_type_fields_and_message(error):
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is type(error)
    assert str(clone) == str(error)
    assert clone.args == error.args
    for field in ("type_name", "remote_traceback", "source", "request", "argv", "retcode", "stdout", "stderr", "host", "timeout", "program", "path"):
        if hasattr(error, field):
            assert getattr(clone, field) == getattr(error, field)


def test_every_public_class_is_sampled_and_rooted():
    classes = {getattr(exc, n) for n in exc.__all__}
    assert classes == {type(e) for e in SAMPLES}
    assert all(issubclass(c, exc.TetherError) for c in classes)


def test_stdlib_bases_let_plain_except_clauses_work():
    assert issubclass(exc.ProcessTimedOut, TimeoutError)
    assert issubclass(exc.CommandNotFound, LookupError)
    assert issubclass(exc.ConnectError, OSError)
    assert issubclass(exc.HostKeyError, OSError)
    assert issubclass(exc.AuthenticationError, exc.ConnectError)
    assert issubclass(exc.CommandLineError, ValueError)


def test_execution_error_message_shows_command_host_code_and_output_tail():
    stderr = "".join(f"line {i}\n" for i in range(50))
    text = str(exc.ProcessExecutionError(["grep", "it's"], 1, "", stderr, "web1"))
    assert "Command line | grep \"it's\"" in text
    assert "Host         | web1" in text
    assert "Exit code    | 1" in text
    assert "line 49" in text and "line 39" not in text  # only the tail is shown


def test_timeout_message_names_the_limit():
    assert "1.5 s" in str(exc.ProcessTimedOut(["sleep", "9"], 1.5))
