"""The one quoting routine: any string without NUL reaches the program byte for byte."""

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether import local
from tether.commands.quoting import MAX_COMMAND_LINE, quote, shell_line
from tether.exceptions import CommandLineError

# text without NUL, biased towards what breaks naive quoting
tricky = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("'\"$`\\!*?[]{}()<>|&;~#= \t\n-%^")),
        st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)),
    ),
    max_size=40,
)

PRINT_ARGS = [sys.executable, "-c", "import sys; sys.stdout.buffer.write(repr(sys.argv[1:]).encode())"]


def run_sh(line: str) -> list:
    out = subprocess.run(["/bin/sh", "-c", line], capture_output=True, check=True).stdout
    return eval(out)  # our own repr() output


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(tricky, min_size=1, max_size=3))
def test_shell_line_reaches_the_program_unchanged(args):
    assert run_sh(shell_line([*PRINT_ARGS, *args])) == args


def nested_in_sh(cmd, depth: int):
    """``sh -c`` around ``cmd`` ``depth`` times, through the command algebra."""
    for _ in range(depth):
        cmd = local["sh"]["-c", cmd]
    return cmd


@pytest.mark.parametrize("depth", [0, 1, 2, 3])
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(args=st.lists(tricky, min_size=1, max_size=4))
def test_arguments_arrive_byte_for_byte_at_any_nesting_depth(depth, args):
    # printf writes each argument NUL-terminated: an exact, binary-safe echo
    printf = local["printf"][("%s\\0", *args)]
    out = nested_in_sh(printf, depth)()
    assert out.split("\0")[:-1] == args


@pytest.mark.parametrize("text", ["", "-n", "--", "a b", "it's", "$(id)", "`id`", "\\", "\n", "é ☃", "'", "''"])
def test_classic_traps(text):
    assert run_sh(shell_line([*PRINT_ARGS, text])) == [text]


def test_safe_words_stay_bare():
    assert quote("/usr/bin/ls") == "/usr/bin/ls"
    assert quote("a=b,c:d@e%f+g") == "a=b,c:d@e%f+g"
    assert quote("") == "''"


def test_nul_byte_is_refused_before_anything_runs():
    with pytest.raises(CommandLineError, match="NUL"):
        shell_line(["echo", "a\0b"])


def test_overlong_line_is_refused_with_a_hint():
    with pytest.raises(CommandLineError, match="limit"):
        shell_line(["echo", "x" * (MAX_COMMAND_LINE + 1)])
