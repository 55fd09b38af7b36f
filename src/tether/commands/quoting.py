"""The one quoting routine: argv <-> POSIX shell text.

Every argument that ends up in a shell line goes through :func:`quote`, so a
string reaches the program byte for byte whatever it holds (quotes, ``$``,
backticks, backslashes, newlines, unicode, a leading ``-``)::

    >>> shell_line(["echo", "$HOME", "it's"])
    'echo \'$HOME\' "it\'s"'

Single quotes are the default because nothing inside them is special to a
POSIX shell; for text holding single quotes the shorter of ``'it'\\''s'`` and
a double-quoted form (``$ ` " \\`` escaped) is chosen. A NUL byte cannot be
passed in argv at all, and an over-long line is refused early, before
anything runs, with an error that names the problem.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..exceptions import CommandLineError

#: longest shell line / total argv we accept (well under Linux's ARG_MAX and
#: sshd's limits, so a too-long command fails here with a clear message
#: instead of deep inside exec or the SSH server)
MAX_COMMAND_LINE = 64 * 1024

# characters that never need quoting in any POSIX shell word position
_SAFE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")
# characters still special inside double quotes
_DOUBLE_SPECIAL = re.compile(r'[$`"\\]')


def check_arg(arg: str) -> str:
    """Return ``arg`` if it can be passed to a program, else raise CommandLineError."""
    if "\0" in arg:
        raise CommandLineError(f"argument contains a NUL byte, which no program can receive: {arg!r:.80}")
    return arg


def quote(arg: str) -> str:
    """Quote one argument for a POSIX shell (sh, dash, bash, zsh, busybox)."""
    check_arg(arg)
    if not arg:
        return "''"
    if _SAFE.fullmatch(arg):
        return arg
    single = "'" + arg.replace("'", "'\\''") + "'"
    if "'" not in arg:
        return single
    # Text with single quotes: double quotes are often shorter, and keep
    # deeply nested lines from growing as fast (both forms are exact).
    double = '"' + _DOUBLE_SPECIAL.sub(r"\\\g<0>", arg) + '"'
    return double if len(double) < len(single) else single


def shell_line(argv: Iterable[str]) -> str:
    """Join argv into one shell command line, every word quoted."""
    line = " ".join(quote(a) for a in argv)
    check_length(line)
    return line


def check_argv(argv: list[str]) -> list[str]:
    """Validate argv for exec: no NUL bytes, total size under MAX_COMMAND_LINE."""
    for a in argv:
        check_arg(a)
    check_length(" ".join(argv))
    return argv


def check_length(line: str) -> str:
    size = len(line.encode("utf-8", "surrogateescape"))
    if size > MAX_COMMAND_LINE:
        raise CommandLineError(
            f"command line is {size} bytes, over the {MAX_COMMAND_LINE}-byte limit; "
            "pass large data on stdin (cmd << data) or in a file instead"
        )
    return line


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_env_name(name: str) -> str:
    """Environment variable names must be shell identifiers (so `export NAME=...` is safe)."""
    if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
        raise CommandLineError(f"invalid environment variable name: {name!r}")
    return name
