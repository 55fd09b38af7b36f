"""Host patterns as OpenSSH matches them (``match.c``): ``*`` and ``?``, ``!`` negation.

``Host`` lines list patterns separated by blanks and are case-sensitive;
``Match host``/``user``/... take one comma-separated list, lowercased for host
names. A negated match excludes outright, whatever else matches.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..exceptions import SshConfigError
from .lexing import _lower


@lru_cache(maxsize=512)
def _pattern_re(pattern: str) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def _match_pattern(s: str, pattern: str) -> bool:
    """``match.c:match_pattern``: ``*`` and ``?`` only, case-sensitive."""
    return _pattern_re(pattern).fullmatch(s) is not None


def _match_list(s: str, patterns: str, dolower: bool) -> int:
    """``match_pattern_list``: 1 positive, -1 negated match, 0 none (comma-separated)."""
    positive = 0
    for sub in patterns.split(","):
        negated = sub.startswith("!")
        if negated:
            sub = sub[1:]
        if len(sub) >= 1023:  # OpenSSH's sub-pattern buffer: too long never matches
            return 0
        if _match_pattern(s, _lower(sub) if dolower else sub):
            if negated:
                return -1
            positive = 1
    return positive


def _match_hostname(host: str, patterns: str) -> bool:
    return _match_list(_lower(host), patterns, True) == 1


def _match_host_line(host: str, patterns: list[str], where: str) -> bool:
    """Whether a ``Host`` line with these words applies to ``host`` (``readconf.c``)."""
    active = False
    for pattern in patterns:
        if not pattern:
            raise SshConfigError(f"{where}: keyword host empty argument")
        negated = pattern.startswith("!")
        if _match_pattern(host, pattern[1:] if negated else pattern):
            if negated:
                return False  # a negated match excludes the block outright
            active = True
    return active
