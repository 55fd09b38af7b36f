"""What resolution asks of the machine, behind one object: ``Lookups``.

Files (``Include``), the local user (``%u``, ``%i``, ``%d``, ``~user``), this
host's name (``%l``, ``%L``), the canonical form of the host name and
``Match exec`` commands. The resolver receives a ``Lookups`` (this real one
by default), so the rules in ``resolve``/``expand`` stay functions of the
config text and these answers, and a test can pass another.
"""

from __future__ import annotations

import os
import pwd
import re
import socket
import subprocess
from dataclasses import dataclass
from glob import glob as _glob
from pathlib import Path

from .lexing import _lower

PathArg = str | os.PathLike[str]


@dataclass
class LocalUser:
    """The user ssh runs as: ``%u`` (name), ``%i`` (uid), ``%d`` (home)."""

    name: str
    uid: int
    home: str


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


class Lookups:
    """The real answers, from this machine; every method may be overridden."""

    def read_text(self, path: PathArg) -> str:
        """A file's text; bytes that are not UTF-8 survive as surrogates (``surrogateescape``)."""
        return _read_text(path)

    def glob(self, pattern: str) -> list[str]:
        """The paths an ``Include`` pattern names (``~`` expanded), sorted as ``glob(3)`` sorts."""
        return sorted(_glob(os.path.expanduser(pattern)))

    def stat(self, path: str) -> os.stat_result:
        """``os.stat``: an included file must be ours or root's, and writable by no one else."""
        return os.stat(path)

    def local_user(self, name: str | None) -> LocalUser:
        """``name``'s passwd entry (None: this process's user); an unknown name gets ours."""
        if name is None:
            entry = pwd.getpwuid(os.getuid())
            return LocalUser(entry.pw_name, entry.pw_uid, entry.pw_dir)
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            return LocalUser(name, os.getuid(), str(Path.home()))
        return LocalUser(entry.pw_name, entry.pw_uid, entry.pw_dir)

    def home_of(self, user: str) -> str:
        """``~user``: that user's home directory; KeyError when there is no such user."""
        return pwd.getpwnam(user).pw_dir

    def canonical_host(self, host: str) -> str:
        """The name ssh connects to: lowercased; an address literal in numeric form unless that
        differs from the original only in case (``ssh.c:resolve_canonicalize``). No DNS."""
        numeric = _numeric_address(host)
        if numeric is None:
            return _lower(host)
        return host if _lower(numeric) == _lower(host) else numeric

    def this_host(self) -> tuple[str, str]:
        """(%l, %L): this machine's name, full and up to the first dot."""
        name = socket.gethostname()
        return name, name.split(".", 1)[0]

    def run_exec(self, command: str) -> int:
        """Run a ``Match exec`` command; its exit status (negative: killed by that signal)."""
        shell = os.environ.get("SHELL") or "/bin/sh"  # OpenSSH runs it under the user's shell
        done = subprocess.run(
            [shell, "-c", command], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=False
        )
        return done.returncode
