"""A machine's environment variables: a mapping applied to every command it runs.

::

    local.env["FOO"] = "bar"
    with local.env(FOO="x", BAR="y"):   # restored on exit
        local["printenv"]("FOO")        # -> 'x\\n'
    local.env.path.insert(0, "/opt/bin")   # edits PATH
    local.env.home, local.env.user

Names must be shell identifiers and values may not hold a NUL byte: both are
checked when set, so a bad name fails at the assignment that made it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from ..commands.base import as_arg
from ..commands.quoting import check_arg, check_env_name

_VAR = re.compile(r"\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})")


class EnvPath(list):
    """``env.path``: PATH as a list of paths; every change is written back to PATH."""

    def __init__(self, env: Env) -> None:
        self._env = env
        super().__init__(env._make_path(p) for p in env.get("PATH", "").split(":") if p)

    def _sync(self) -> None:
        self._env["PATH"] = ":".join(str(p) for p in self)

    def append(self, item: Any) -> None:
        super().append(self._env._make_path(item))
        self._sync()

    def insert(self, index: Any, item: Any) -> None:
        super().insert(index, self._env._make_path(item))
        self._sync()

    def extend(self, items: Any) -> None:
        super().extend(self._env._make_path(i) for i in items)
        self._sync()

    def remove(self, item: Any) -> None:
        super().remove(self._env._make_path(item))
        self._sync()

    def pop(self, index: Any = -1) -> Any:
        item = super().pop(index)
        self._sync()
        return item

    def clear(self) -> None:
        super().clear()
        self._sync()


class Env(MutableMapping[str, str]):
    """Environment variables of one machine (a private copy, not ``os.environ``)."""

    def __init__(
        self,
        initial: dict[str, str],
        make_path: Callable[[str], Any] = str,
        login_name: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._vars = dict(initial)
        self._login_name = login_name
        self._stack: list[tuple[dict[str, str], bool]] = []
        #: False until the first change: the local machine then lets children
        #: inherit os.environ as is, which spares re-encoding it per process
        self.modified = False
        self._make_path = make_path

    # -- mapping -----------------------------------------------------------
    def __getitem__(self, name: str) -> str:
        return self._vars[name]

    def __setitem__(self, name: str, value: Any) -> None:
        self._vars[check_env_name(name)] = check_arg(as_arg(value))
        self.modified = True

    def __delitem__(self, name: str) -> None:
        del self._vars[name]
        self.modified = True

    def __iter__(self) -> Iterator[str]:
        return iter(self._vars)

    def __len__(self) -> int:
        return len(self._vars)

    def __repr__(self) -> str:
        return f"<Env {len(self._vars)} vars>"

    def getdict(self) -> dict[str, str]:
        """A snapshot copy, as passed to a process."""
        return dict(self._vars)

    # -- scoped changes ----------------------------------------------------
    @contextmanager
    def __call__(self, *args: Any, **kwargs: Any) -> Iterator[Env]:
        """Apply changes for the duration of a ``with`` block."""
        self._stack.append((dict(self._vars), self.modified))
        try:
            self.update(*args, **kwargs)
            yield self
        finally:
            self._vars, self.modified = self._stack.pop()

    # -- conveniences ------------------------------------------------------
    @property
    def path(self) -> EnvPath:
        return EnvPath(self)

    @property
    def home(self) -> Any:
        return self._make_path(self["HOME"]) if "HOME" in self else None

    @home.setter
    def home(self, value: Any) -> None:
        self["HOME"] = value

    @property
    def user(self) -> str | None:
        """$USER or $LOGNAME, else the machine's own answer (cron and CI often set neither)."""
        return self.get("USER") or self.get("LOGNAME") or self._login_name()

    def expand(self, text: str) -> str:
        """Expand ``$VAR`` and ``${VAR}`` from this environment (unknown names stay as written)."""
        return _VAR.sub(lambda m: self._vars.get(m.group(1) or m.group(2), m.group(0)), text)

    def expanduser(self, text: str) -> str:
        home = self.get("HOME")
        if home and (text == "~" or text.startswith("~/")):
            return home + text[1:]
        return os.path.expanduser(text)
