"""Local commands by name: ``from tether.cmd import ls, grep``.

Each attribute is looked up on ``local``'s PATH at import time (so a missing
program fails the import with ImportError naming it); ``apt_get`` also finds
``apt-get``.
"""

from __future__ import annotations

from typing import Any

from .exceptions import CommandNotFound
from .machines.local import local


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        return local[name]
    except CommandNotFound as exc:
        raise AttributeError(f"no command {name!r} on the local PATH") from exc
