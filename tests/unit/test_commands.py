"""The command algebra as data: binding, nesting, plans and shell lines (no processes)."""

import pytest

from tether import ERROUT, local
from tether.commands.plan import DataSource, FileTarget
from tether.exceptions import CommandLineError, CommandNotFound, RedirectionError

ls, grep, ssh, sh = local["ls"], local["grep"], local["ssh"], local["sh"]


def test_lookup_forms_agree():
    from tether.cmd import ls as imported

    assert local.cmd.ls == ls == imported == local[str(local.which("ls"))]
    assert "ls" in local and "no-such-program-xyz" not in local
    assert local.get("no-such-program-xyz", "ls") == ls
    with pytest.raises(CommandNotFound, match="no-such-program-xyz"):
        _ = local["no-such-program-xyz"]
    with pytest.raises(AttributeError):
        _ = local.cmd.no_such_program_xyz


def test_binding_accumulates_and_keeps_every_value():
    cmd = ls["-a"]["-l", 0, None, ["x", "y"]]
    assert cmd.formulate() == [str(local.which("ls")), "-a", "-l", "0", "x", "y"]


def test_nested_command_is_spliced_for_argv_programs():
    env = local["env"]
    assert env[ls["-a"]].formulate()[1:] == [str(local.which("ls")), "-a"]


def test_nested_command_becomes_one_quoted_line_for_ssh_at_any_depth():
    inner = local["echo"]["it's", "$x"]
    outer = ssh["h1", ssh["h2", inner]]
    argv = outer.formulate()
    assert argv[:2] == [str(local.which("ssh")), "h1"] and len(argv) == 3
    # one level of quoting per level of nesting, never doubled (plumbum #253)
    assert argv[2] == ssh["h2", inner].shell_line()
    assert ssh["h2", inner].formulate()[2] == inner.shell_line()


def test_pipeline_binds_arguments_to_last_stage_and_renders_a_shell_line():
    pipe = (ls | grep)["b"]
    stages = pipe.plan().stages
    assert [s.argv[1:] for s in stages] == [[], ["b"]]
    assert pipe.shell_line() == f"{local.which('ls')} | {local.which('grep')} b"
    assert pipe.formulate() == ["/bin/sh", "-c", pipe.shell_line()]


def test_redirections_attach_to_first_and_last_stage():
    # parenthesised: Python reads `a < b > c` as a chained comparison
    plan = (((ls | grep["x"]) < "in.txt") > "out.txt").plan()
    assert plan.stages[0].stdin == FileTarget("in.txt")
    assert plan.stages[1].stdout == FileTarget("out.txt")
    assert (ls >> "log").plan().stages[0].stdout == FileTarget("log", append=True)
    assert (ls >= ERROUT).plan().stages[0].stderr is ERROUT
    assert (grep << "abc").plan().stages[0].stdin == DataSource(b"abc")
    assert "2>&1" in (ls >= ERROUT).shell_line()
    assert (ls > "a b").shell_line().endswith("> 'a b'")


def test_redirecting_a_stream_twice_is_an_error():
    with pytest.raises(RedirectionError, match="already redirected"):
        ((ls > "a") > "b").plan()
    with pytest.raises(RedirectionError, match="ERROUT"):
        (ls > ERROUT).plan()


def test_env_and_cwd_wrap_every_stage_inner_wins():
    cmd = (ls.with_env(A="inner") | grep).with_env(A="outer", B="2").with_cwd("/tmp")
    first, second = cmd.plan().stages
    assert first.env == {"A": "inner", "B": "2"} and second.env == {"A": "outer", "B": "2"}
    assert first.cwd == second.cwd == "/tmp"
    assert cmd.shell_line().startswith("(cd /tmp && A=inner B=2 ")


def test_bad_env_names_and_nul_bytes_are_refused_before_running():
    with pytest.raises(CommandLineError, match="environment variable name"):
        ls.with_env(**{"A-B": "1"})
    with pytest.raises(CommandLineError, match="NUL"):
        ls["a\0b"].formulate()


def test_str_is_the_quoted_shell_line():
    assert str(ls["a b"]) == f"{local.which('ls')} 'a b'"
