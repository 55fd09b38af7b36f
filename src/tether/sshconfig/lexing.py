"""Lines and words of an ssh_config as OpenSSH reads them (``misc.c``/``readconf.c``).

``_head`` splits a line into keyword and rest (``strdelim``: quotes, one
``=``), ``_argv``/``_argv_tokens`` split the rest into words (``argv_split``:
quotes, backslashes, ``#`` comments), ``_split_lines`` cuts a text into lines
as ``getline`` does. Small differences here decide which ``Host`` block a
value comes from, so each helper follows its C original, C locale included.
"""

from __future__ import annotations

import re

_WS = " \t\r\n"
_C_SPACE = " \t\n\v\f\r"  # C isspace() in the C locale
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _lower(s: str) -> str:
    """ASCII-only lowercase, as C ``tolower`` does it."""
    return s.translate(_ASCII_LOWER)


def _c_line(text: str) -> str:
    """The line as OpenSSH sees it: cut at NUL, trailing whitespace and \\f gone (never char 0)."""
    nul = text.find("\0")
    if nul >= 0:
        text = text[:nul]
    end = len(text)
    while end > 1 and text[end - 1] in _WS + "\f":
        end -= 1
    return text[:end]


_DELIM = re.compile(r'[ \t\r\n"=]')


def _strdelim(s: str | None) -> tuple[str | None, str | None]:
    """``misc.c:strdelim``: next word (quotes, one ``=``); returns (word, rest)."""
    if s is None:
        return None, None
    m = _DELIM.search(s)
    if m is None:
        return s, None
    i = m.start()
    if s[i] == '"':
        joined = s[:i] + s[i + 1 :]
        close = joined.find('"', i)
        if close < 0:
            return None, None
        return joined[:close], joined[close + 1 :].lstrip(_WS)
    rest = s[i + 1 :].lstrip(_WS)
    if s[i] != "=" and rest.startswith("="):
        rest = rest[1:].lstrip(_WS)
    return s[:i], rest


class _QuoteError(Exception):
    """An argument list ended inside a quote."""


def _argv_tokens(s: str) -> list[tuple[str, int, int]]:
    """``misc.c:argv_split`` with comments: (word, start, end) for each word of ``s``."""
    out: list[tuple[str, int, int]] = []
    i, n = 0, len(s)
    while i < n:
        if s[i] in " \t":
            i += 1
            continue
        if s[i] == "#":
            break
        start, quote, buf = i, "", []
        while i < n:
            c = s[i]
            nxt = s[i + 1] if i + 1 < n else ""
            if c == "\\" and (nxt in ("'", '"', "\\") or (not quote and nxt == " ")):
                buf.append(nxt)
                i += 2
                continue
            if not quote and c in " \t":
                break
            if not quote and c in "\"'":
                quote = c
            elif quote and c == quote:
                quote = ""
            else:
                buf.append(c)
            i += 1
        if quote:
            raise _QuoteError
        out.append(("".join(buf), start, i))
    return out


def _argv(s: str) -> list[str]:
    return [word for word, _, _ in _argv_tokens(s)]


def _head(text: str) -> tuple[str, str | None] | None:
    """(lowercase keyword, rest or None when missing) of a line; None for blank/comment lines."""
    line = _c_line(text)
    if not line:
        return None
    keyword, rest = _strdelim(line)
    if keyword == "":
        keyword, rest = _strdelim(rest)
    if not keyword or keyword[0] in "#\n":
        return None
    if rest is not None:
        rest = rest.lstrip(_WS)
    return _lower(keyword), rest or None


def _split_lines(text: str) -> list[tuple[str, str]]:
    """(text, eol) pairs; only ``\\n`` ends a line, as for ``getline``."""
    parts = text.split("\n")
    lines = [(part, "\n") for part in parts[:-1]]
    if parts[-1]:
        lines.append((parts[-1], ""))
    return lines
