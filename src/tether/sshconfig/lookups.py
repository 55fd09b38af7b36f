"""What resolution asks of the machine: files, the local user, this host's name, address forms.

Kept apart from the rules in ``resolve``/``expand`` so that those stay pure
functions of the config text and these answers.
"""

from __future__ import annotations

import os
import pwd
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from .lexing import _lower

PathArg = str | os.PathLike[str]


@dataclass
class _LocalUser:
    name: str
    uid: int
    home: str


def _local_user(name: str | None) -> _LocalUser:
    if name is None:
        entry = pwd.getpwuid(os.getuid())
        return _LocalUser(entry.pw_name, entry.pw_uid, entry.pw_dir)
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return _LocalUser(name, os.getuid(), str(Path.home()))
    return _LocalUser(entry.pw_name, entry.pw_uid, entry.pw_dir)


def _read_text(path: PathArg) -> str:
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "surrogateescape")


def _numeric_address(host: str) -> str | None:
    """The address as ``getnameinfo(NI_NUMERICHOST)`` prints it, if ``host`` is a literal."""
    try:
        if ":" in host:
            return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, host))
        if re.fullmatch(r"[0-9A-Fa-fxX.]+", host):
            # inet_aton's legacy forms count too: "22" is 0.0.0.22, "010.1" is 8.0.0.1
            return socket.inet_ntoa(socket.inet_aton(host))
    except (OSError, ValueError):
        pass
    return None


def _canonical_host(host: str) -> str:
    """The name ssh connects to: lowercased; an address literal in numeric form unless that
    differs from the original only in case (``ssh.c:resolve_canonicalize``)."""
    numeric = _numeric_address(host)
    if numeric is None:
        return _lower(host)
    return host if _lower(numeric) == _lower(host) else numeric


def _this_host() -> tuple[str, str]:
    """(%l, %L): this machine's name, full and up to the first dot."""
    name = socket.gethostname()
    return name, name.split(".", 1)[0]
