"""The pure part of a path: names and joins, no I/O.

Local and remote paths share it; each machine's subclass adds the file-system
operations. Paths are POSIX-style on every machine (tether's remotes are POSIX
hosts) and compare equal when their machine and normalised text agree.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote as url_quote

from .pattern import Entry, depth_needed, select, split_patterns, walk_order


class BasePath:
    """A path on some machine; subclasses set ``machine`` and do the I/O."""

    __slots__ = ("_path",)

    def __init__(self, *parts: Any) -> None:
        if not parts:
            raise TypeError("a path needs at least one part")
        texts = [_text(part) for part in parts]
        self._path = posixpath.normpath(posixpath.join(*texts))
        if self._path.startswith("//"):  # POSIX allows a special meaning; we don't
            self._path = "/" + self._path.lstrip("/")

    # -- construction -----------------------------------------------------
    def _new(self, *parts: Any) -> Any:
        """A path of the same kind (and machine) as ``self``."""
        return type(self)(*parts)

    def join(self, *others: Any) -> Any:
        return self._new(self._path, *others)

    def __truediv__(self, other: Any) -> Any:
        return self.join(other)

    def __rtruediv__(self, other: Any) -> Any:
        return self._new(other, self._path)

    # -- text -------------------------------------------------------------
    def __str__(self) -> str:
        return self._path

    def __fspath__(self) -> str:
        return self._path

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._path}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BasePath):
            return type(self) is type(other) and self._path == other._path and self._same_machine(other)
        if isinstance(other, str):
            return self._path == posixpath.normpath(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._path))

    def __lt__(self, other: Any) -> bool:
        return self._path < str(other)

    def _same_machine(self, other: BasePath) -> bool:
        return True

    def __bool__(self) -> bool:
        return bool(self._path)

    # -- names ------------------------------------------------------------
    @property
    def name(self) -> str:
        return posixpath.basename(self._path)

    @property
    def stem(self) -> str:
        name = self.name
        suffix = self.suffix
        return name[: -len(suffix)] if suffix else name

    @property
    def suffix(self) -> str:
        name = self.name
        dot = name.rfind(".")
        return name[dot:] if 0 < dot < len(name) - 1 else ""

    @property
    def suffixes(self) -> list[str]:
        name = self.name
        if name.endswith("."):
            return []
        name = name.lstrip(".")
        return ["." + part for part in name.split(".")[1:]]

    @property
    def parent(self) -> Any:
        return self._new(posixpath.dirname(self._path) or ".")

    dirname = parent

    @property
    def parts(self) -> tuple[str, ...]:
        if self._path == "/":
            return ("/",)
        head = ("/",) if self._path.startswith("/") else ()
        return head + tuple(p for p in self._path.split("/") if p)

    @property
    def root(self) -> str:
        return "/" if self._path.startswith("/") else ""

    def is_absolute(self) -> bool:
        return self._path.startswith("/")

    def up(self, count: int = 1) -> Any:
        """The ``count``-th parent: ``p.up(2) == p.parent.parent``."""
        path = self
        for _ in range(count):
            path = path.parent
        return path

    def with_name(self, name: str) -> Any:
        if not name or "/" in name:
            raise ValueError(f"invalid file name {name!r}")
        return self._new(posixpath.dirname(self._path), name)

    def with_suffix(self, suffix: str, depth: int | None = 1) -> Any:
        """Replace the last ``depth`` suffixes (all of them when ``depth`` is None).

        ``LocalPath("a.tar.gz").with_suffix(".zip", 2)`` is ``a.zip``.
        """
        if suffix and (not suffix.startswith(".") or suffix == "." or "/" in suffix):
            raise ValueError(f"invalid suffix {suffix!r}")
        name = self.name
        if not name:
            raise ValueError(f"{self!r} has an empty name")
        suffixes = self.suffixes
        drop = len(suffixes) if depth is None else min(depth, len(suffixes))
        if drop:
            name = name[: -len("".join(suffixes[-drop:]))]
        return self.with_name(name + suffix)

    def relative_to(self, other: Any) -> str:
        """This path relative to ``other`` as text (``..`` where needed)."""
        return posixpath.relpath(self._path, str(other))

    def as_uri(self, scheme: str = "file") -> str:
        if not self.is_absolute():
            raise ValueError(f"relative path {self._path!r} cannot be a URI")
        return f"{scheme}://{self._uri_host()}{url_quote(self._path)}"

    def _uri_host(self) -> str:
        return ""

    def match(self, pattern: str) -> bool:
        from fnmatch import fnmatchcase

        return fnmatchcase(self.name, pattern)

    # -- what each machine's subclass supplies ----------------------------------
    def exists(self) -> bool:
        raise NotImplementedError

    def is_dir(self) -> bool:
        raise NotImplementedError

    def stat(self) -> os.stat_result:
        raise NotImplementedError

    @property
    def uid(self) -> int:
        """The owner's user id (through symlinks)."""
        return self.stat().st_uid

    @property
    def gid(self) -> int:
        return self.stat().st_gid

    def delete(self) -> None:
        raise NotImplementedError

    def _reader(self) -> Any:
        """A binary file reading the content (the source end of a copy)."""
        raise NotImplementedError

    def _writer(self, mode: int | None = None) -> Any:
        """An atomic writer of the content: ``write``, ``close`` commits, ``abort`` discards."""
        raise NotImplementedError

    def _tree_reader(self) -> Any:
        """The directory's content as a tar stream."""
        raise NotImplementedError

    def _tree_writer(self) -> Any:
        """An atomic writer of the directory from a tar stream."""
        raise NotImplementedError

    # -- listing, shared: a machine supplies _scan ---------------------------
    def _scan(self, depth: int | None) -> list[Entry]:
        """Everything below this directory, ``depth`` levels deep (None: all)."""
        raise NotImplementedError

    def glob(self, pattern: str | Iterable[str]) -> list[Any]:
        """Paths matching ``pattern`` (or any of several), sorted; ``**`` recurses.

        ``p // "*.py"`` and ``p // ("*.py", "*.txt")`` say the same.
        """
        patterns = split_patterns(pattern)
        entries = self._scan(depth_needed(patterns)) if self.is_dir() else []
        found = select(patterns, entries)
        return [self._new(self._path, *parts) for parts in found]

    def __floordiv__(self, pattern: str | Iterable[str]) -> list[Any]:
        return self.glob(pattern)

    def walk(
        self,
        filter: Callable[[Any], bool] = lambda p: True,
        dir_filter: Callable[[Any], bool] = lambda p: True,
    ) -> Iterator[Any]:
        """Every path below this directory, depth first; ``dir_filter`` prunes descent.

        Links to directories are yielded but not followed.
        """
        made: dict[tuple[str, ...], Any] = {}

        def path(parts: tuple[str, ...]) -> Any:
            if parts not in made:
                made[parts] = self._new(self._path, *parts)
            return made[parts]

        order = walk_order(self._scan(None), lambda parts: filter(path(parts)), lambda parts: dir_filter(path(parts)))
        for parts in order:
            yield path(parts)

    # -- content, shared: a machine supplies read/write -----------------------
    def read(self, encoding: str | None = "utf-8") -> Any:
        raise NotImplementedError

    def write(self, data: str | bytes, encoding: str = "utf-8") -> None:
        raise NotImplementedError

    def read_bytes(self) -> bytes:
        return self.read(None)

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read(encoding)

    def write_bytes(self, data: bytes) -> None:
        self.write(data)

    def write_text(self, data: str, encoding: str = "utf-8") -> None:
        self.write(data, encoding)


def _text(part: Any) -> str:
    if isinstance(part, BasePath):
        return part._path
    if isinstance(part, str):
        text = part
    elif isinstance(part, os.PathLike):
        text = os.fspath(part)
        if isinstance(text, bytes):
            text = os.fsdecode(text)
    else:
        raise TypeError(f"path parts must be str or path-like, not {type(part).__name__}")
    if "\0" in text:
        raise ValueError(f"path contains a NUL byte: {text!r}")
    return text
