"""Paths on a remote machine: ``rem.path("/bin") / "ls"``.

Queries run in the machine's control shell (one round trip each, no new
process); listings come back NUL-delimited, so any file name survives.
Contents move through a command's stdin and stdout, byte for byte.
"""

from __future__ import annotations

import builtins
import posixpath
import re
from collections.abc import Iterable, Iterator
from typing import Any

from ..commands.base import Command
from ..commands.quoting import quote
from .base import BasePath

# glob metacharacters we let the remote shell expand; everything else is escaped
_GLOB_META = re.compile(r"(\*\*|[*?]|\[[^\]/]*\])")


class RemotePath(BasePath):
    """A path on ``machine`` (a remote machine of the sync API)."""

    __slots__ = ("_machine",)

    def __init__(self, machine: Any, *parts: Any) -> None:
        self._machine = machine
        super().__init__(*parts)

    def _new(self, *parts: Any) -> RemotePath:
        return RemotePath(self._machine, *parts)

    def __rtruediv__(self, other: Any) -> RemotePath:
        return RemotePath(self._machine, other, self._path)

    def _same_machine(self, other: BasePath) -> bool:
        return getattr(other, "_machine", None) is self._machine

    def __hash__(self) -> int:
        return hash((id(self._machine), self._path))

    @property
    def machine(self) -> Any:
        return self._machine

    def _uri_host(self) -> str:
        return str(self._machine.host or "")

    def as_uri(self, scheme: str = "ssh") -> str:
        return super().as_uri(scheme)

    def _test(self, flag: str) -> bool:
        rc, _, _ = self._machine._control(f"test {flag} {quote(self._path)}", retcode=None)
        return rc == 0

    # -- queries ---------------------------------------------------------------
    def exists(self) -> bool:
        return self._test("-e")

    def is_file(self) -> bool:
        return self._test("-f")  # follows symlinks, as pathlib does

    def is_dir(self) -> bool:
        return self._test("-d")

    def is_symlink(self) -> bool:
        return self._test("-L")

    isfile, isdir, islink = is_file, is_dir, is_symlink

    def list(self) -> builtins.list[RemotePath]:
        """The directory's entries, sorted by name."""
        line = f"cd {quote(self._path)} && for f in * .*; do [ -e \"$f\" ] || [ -L \"$f\" ] || continue; " \
            "case $f in .|..) continue;; esac; printf '%s\\0' \"$f\"; done"
        _, out, _ = self._machine._control(line)
        return [self / name for name in sorted(_nul_split(out))]

    def iterdir(self) -> Iterator[RemotePath]:
        return iter(self.list())

    def glob(self, pattern: str | Iterable[str]) -> builtins.list[RemotePath]:
        """Paths matching ``pattern`` (or any of several), sorted; ``**`` recurses."""
        patterns = [pattern] if isinstance(pattern, str) else builtins.list(pattern)
        found: set[str] = set()
        for pat in patterns:
            found.update(self._glob_one(pat))
        return [RemotePath(self._machine, p) for p in sorted(found)]

    def __floordiv__(self, pattern: str | Iterable[str]) -> builtins.list[RemotePath]:
        return self.glob(pattern)

    def _glob_one(self, pattern: str) -> builtins.list[str]:
        if "**" in pattern:
            # find(1) does the recursion; -path matches the rest of the pattern
            rest = pattern.replace("**/", "*").replace("**", "*")
            line = f"find {quote(self._path)} -path {quote(posixpath.join(self._path, rest))} -print0"
            _, out, _ = self._machine._control(line, retcode=None)
            return _nul_split(out)
        words = "".join(
            part if _GLOB_META.fullmatch(part) else quote(part) for part in _GLOB_META.split(pattern) if part
        )
        line = f"cd {quote(self._path)} && for f in {words}; do [ -e \"$f\" ] || [ -L \"$f\" ] || continue; " \
            "printf '%s\\0' \"$f\"; done"
        _, out, _ = self._machine._control(line, retcode=None)
        return [posixpath.join(self._path, name) for name in _nul_split(out)]

    # -- content ---------------------------------------------------------------
    def read(self, encoding: str | None = "utf-8") -> Any:
        """The file's text (``encoding=None`` for bytes)."""
        data: bytes = Command(self._machine, "cat", encoding=None)(self._path)
        return data if encoding is None else data.decode(encoding)

    def write(self, data: str | bytes, encoding: str = "utf-8") -> None:
        """Replace the content atomically: written beside the file, then renamed over it."""
        payload = data.encode(encoding) if isinstance(data, str) else bytes(data)
        script = 't=$(mktemp "$1.tether-XXXXXX") && cat >"$t" && mv -f "$t" "$1" || { rm -f "$t"; exit 1; }'
        (self._machine["sh"]["-c", script, "sh", self._path] << payload)()

    # -- changes ---------------------------------------------------------------
    def mkdir(self, mode: int | None = None, parents: bool = True, exist_ok: bool = True) -> None:
        flags = "-p " if parents else ""
        if mode is not None:
            flags += f"-m {mode:o} "
        if exist_ok and not parents:
            self._machine._control(f"test -d {quote(self._path)} || mkdir {flags}{quote(self._path)}")
        else:
            self._machine._control(f"mkdir {flags}-- {quote(self._path)}")

    def touch(self) -> None:
        self._machine._control(f"touch -- {quote(self._path)}")

    def delete(self) -> None:
        """Remove the file, link or directory tree; a missing path is fine."""
        self._machine._control(f"rm -rf -- {quote(self._path)}")

    remove = delete

    def chmod(self, mode: int) -> None:
        self._machine._control(f"chmod {mode:o} -- {quote(self._path)}")


def _nul_split(text: str) -> builtins.list[str]:
    return [name for name in text.split("\0") if name]
