"""Text for the lines an edit writes: values quoted so OpenSSH reads back exactly them.

Every value is checked before it is written: a newline, NUL or stray quote
would let a value inject configuration, and a value OpenSSH would refuse
(``Port 0``) is refused here rather than breaking the file for ``ssh``.
``_rewrite_value`` swaps the value of an existing line and keeps the rest of
its bytes (indentation, keyword spelling, separator, trailing comment).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..exceptions import SshConfigError
from .lexing import _WS, _argv, _argv_tokens, _c_line, _lower, _QuoteError
from .options import _CANONICAL_NAMES, _COMMANDS, _PER_LINE, _SINGLE, _STRUCTURAL, _normalize

Value = str | int | bool | Iterable[str | int]

_OPTION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def _indent(text: str) -> str:
    return text[: len(text) - len(text.lstrip(" \t"))]


_KEY_SEP = re.compile(r'([ \t]*)([^ \t\r\n="]+)([ \t]*=[ \t]*|[ \t]+)')


def _keyword_text(text: str) -> str:
    m = _KEY_SEP.match(text)
    return m.group(2) if m else text.strip()


def _spelling(option: str, kw: str) -> str:
    return option if option != kw else _CANONICAL_NAMES.get(kw, option)


def _checked_option(option: str) -> str:
    if not _OPTION_NAME.fullmatch(option):
        raise SshConfigError(f"not an ssh_config option name: {option!r}")
    kw = _lower(option)
    if kw in _STRUCTURAL:
        raise SshConfigError(f"{option} is not an option: edit blocks with add_host/remove_host")
    return kw


def _check_pattern(pattern: str) -> None:
    if not pattern or re.search(r"[\s\"'\\#=\x00]", pattern):
        raise SshConfigError(f"bad Host pattern {pattern!r}: no spaces, quotes, '#', '=' or '\\\\'")


_BARE = re.compile(r"[^\s\"'\\#=]+")


def _quote_word(option: str, word: str) -> str:
    """One word written so OpenSSH's ``argv_split`` reads back exactly ``word``."""
    if not word:
        raise SshConfigError(f"{option}: empty value")
    if re.search(r'[\n\r\x00"]', word):
        raise SshConfigError(f"{option}: value {word!r} has a newline, NUL or double quote")
    if _BARE.fullmatch(word):
        return word
    return '"' + word.replace("\\", "\\\\") + '"'


def _render(option: str, kw: str, value: Value) -> list[str]:
    """The text after the keyword, one string per line to write."""
    if isinstance(value, bool):
        return ["yes" if value else "no"]
    if isinstance(value, (str, int)):
        items: list[str] = [str(value)]
    else:
        items = [str(v) for v in value]
        if not items:
            raise SshConfigError(f"{option}: empty list")
    if kw in _COMMANDS:
        return [_command_text(option, " ".join(items))]
    if kw in _PER_LINE:
        groups = [item.split(" ") if kw.endswith("forward") else [item] for item in items]
    else:
        groups = [items]
    lines = []
    for words in groups:
        line = " ".join(_quote_word(option, word) for word in words)
        if _argv(line) != words:  # belt and braces: it must read back as written
            raise SshConfigError(f"{option}: value {words!r} cannot be represented")
        if kw in _SINGLE:
            _normalize(kw, words, option)  # refuse what OpenSSH would refuse
        lines.append(line)
    return lines


def _command_text(option: str, command: str) -> str:
    """ProxyCommand & co. are taken raw to the end of the line: only newlines/NUL can inject."""
    if re.search(r"[\n\r\x00\f]", command) or not command.strip():
        raise SshConfigError(f"{option}: command {command!r} is empty or has a newline/NUL")
    if command != command.strip(_WS) or command.startswith("="):
        raise SshConfigError(f"{option}: command {command!r} starts/ends with blanks or '='")
    try:
        _argv(command)
    except _QuoteError:
        raise SshConfigError(f"{option}: command {command!r} has unbalanced quotes") from None
    return command


def _rewrite_value(text: str, kw: str, value: str) -> str:
    """``text`` with its value replaced; indentation, keyword, separator and comment kept."""
    m = _KEY_SEP.match(text)
    if m is None:
        return f"{text} {value}"
    start = m.end()
    body = _c_line(text)
    end = len(body)
    if kw not in _COMMANDS:
        try:
            tokens = _argv_tokens(body[start:])
            end = start + tokens[-1][2] if tokens else start
        except _QuoteError:
            pass
    tail = text[end:]
    if tail.startswith("#"):
        tail = " " + tail  # a '#' glued to the value would become part of it
    return text[:start] + value + tail
