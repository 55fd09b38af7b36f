"""A remote machine's working directory: ``rem.cwd``.

Commands start there (each remote line begins with ``cd``); changing it
checks the directory exists on the remote, through the control shell.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..commands.base import as_arg
from ..commands.quoting import quote

if TYPE_CHECKING:
    from .remote import AsyncRemoteMachine


class RemoteWorkdir:
    """The remote working directory that commands start in.

    ::

        rem.cwd                      # <RemoteWorkdir /root>
        with rem.cwd("/tmp"):        # for the block
            rem["pwd"]()             # '/tmp\\n'
        rem.cwd.chdir("..")
        rem.cwd / "x"                # a RemotePath
    """

    def __init__(self, machine: AsyncRemoteMachine) -> None:
        self._machine = machine
        self._stack: list[str] = []

    @property
    def _path(self) -> str:
        return self._machine._state().cwd

    def __str__(self) -> str:
        return self._path

    def __repr__(self) -> str:
        return f"<RemoteWorkdir {self._path}>"

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(self._path)

    def __truediv__(self, other: Any) -> Any:
        return self.getpath() / other

    def getpath(self) -> Any:
        return self._machine._make_path(self._path)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.getpath(), name)

    def chdir(self, newdir: Any) -> Any:
        """Change directory (checked remotely: a missing directory raises)."""
        target = posixpath.join(self._path, as_arg(newdir))
        _, out, _ = self._machine._control(f"cd {quote(target)} && pwd")
        self._machine._state().cwd = out.rstrip("\n")
        return self.getpath()

    @contextmanager
    def __call__(self, newdir: Any) -> Iterator[Any]:
        previous = self._path
        try:
            yield self.chdir(newdir)
        finally:
            self._machine._state().cwd = previous
