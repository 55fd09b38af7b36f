"""A machine's working directory: ``local.cwd``.

::

    local.cwd                      # <LocalWorkdir /home/john>
    local.cwd / "src"              # a LocalPath
    with local.cwd("/tmp"):        # chdir for the block, restored after
        local["pwd"]()             # '/tmp\\n'
    local.cwd.chdir("..")

Like plumbum, the local working directory IS the process's (``os.chdir``), so
``open("x")`` and ``local["cat"]("x")`` agree; commands also receive it
explicitly as ``cwd=``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _path(*parts: Any) -> Any:
    from ..paths.local import LocalPath

    return LocalPath(*parts)


class LocalWorkdir:
    def __str__(self) -> str:
        return os.getcwd()

    def __fspath__(self) -> str:
        return os.getcwd()

    def __repr__(self) -> str:
        return f"<LocalWorkdir {os.getcwd()}>"

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __truediv__(self, other: Any) -> Any:
        return _path(os.getcwd(), other)

    def getpath(self) -> Any:
        """The current directory as a LocalPath."""
        return _path(os.getcwd())

    def __getattr__(self, name: str) -> Any:
        # path conveniences (name, parent, list(), ...) on the current directory
        return getattr(self.getpath(), name)

    def chdir(self, newdir: Any) -> Any:
        os.chdir(os.path.join(os.getcwd(), os.fspath(newdir) if isinstance(newdir, os.PathLike) else str(newdir)))
        return self.getpath()

    @contextmanager
    def __call__(self, newdir: Any) -> Iterator[Any]:
        previous = os.getcwd()
        try:
            yield self.chdir(newdir)
        finally:
            os.chdir(previous)
