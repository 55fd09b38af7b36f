"""Host and user names that are safe to hand to ssh, plink and their %-tokens."""

from __future__ import annotations

import re
from typing import Any

# host and user names reach ssh's command line and its %-tokens (ProxyCommand,
# Match exec): refuse option look-alikes and shell metacharacters outright
# (OpenSSH's CVE-2023-51385 came from exactly that)
_BAD_NAME = re.compile(r"^-|[\s'\"`$;&|<>(){}\\*?!#~\x00-\x1f]")


def check_name(name: Any, what: str) -> str:
    """``name`` if it is a safe host or user name, else ValueError naming the problem."""
    if not isinstance(name, str) or not name or _BAD_NAME.search(name):
        raise ValueError(f"invalid {what}: {name!r} (no leading '-', spaces or shell metacharacters)")
    return name
