"""Paths on this machine: ``local.path("/tmp") / "x"``.

::

    p = local.path("/etc")
    p / "hosts"                    # <LocalPath /etc/hosts>
    p // "*.conf"                  # glob: a sorted list of LocalPaths
    p // ("*.conf", "*.d")         # several patterns; "**" recurses
    (p / "hosts").read()           # text; read(None) gives bytes
    local.path("/tmp/x").write("hi")   # atomic: a temp file beside it, then rename

A symlink to a file is a file (``is_file()`` follows links, as in pathlib).
"""

from __future__ import annotations

import builtins
import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from .base import BasePath
from .local_stream import AtomicFile, TreeWriter, tree_reader
from .pattern import Entry


class LocalPath(BasePath):
    """A path on the local machine; also an ``os.PathLike``."""

    __slots__ = ()

    @property
    def machine(self) -> Any:
        from ..machines.local import local

        return local

    # -- queries ---------------------------------------------------------------
    def exists(self) -> bool:
        return os.path.exists(self._path)

    def is_file(self) -> bool:
        return os.path.isfile(self._path)

    def is_dir(self) -> bool:
        return os.path.isdir(self._path)

    def is_symlink(self) -> bool:
        return os.path.islink(self._path)

    isfile, isdir, islink = is_file, is_dir, is_symlink  # plumbum's older names

    def stat(self) -> os.stat_result:
        return os.stat(self._path)

    def lstat(self) -> os.stat_result:
        return os.lstat(self._path)

    def access(self, mode: str | int = 0) -> bool:
        """``os.access``; ``mode`` may be a string of ``r``, ``w``, ``x``."""
        return os.access(self._path, _access_mode(mode))

    def list(self) -> list[LocalPath]:
        """The directory's entries, sorted by name."""
        return [self / name for name in sorted(os.listdir(self._path))]

    def iterdir(self) -> Iterator[LocalPath]:
        with os.scandir(self._path) as entries:
            for entry in entries:
                yield self / entry.name

    def _scan(self, depth: int | None) -> builtins.list[Entry]:
        entries: builtins.list[Entry] = []

        def visit(directory: str, prefix: tuple[str, ...]) -> None:
            try:  # unreadable directories are skipped, as os.walk does
                with os.scandir(directory) as listing:
                    found = [(e.name, e.path, e.is_dir(), e.is_symlink()) for e in listing]
            except OSError:
                return
            for name, full, is_dir, is_link in found:  # types come with the listing: no stat per entry
                parts = (*prefix, name)
                entries.append(Entry(parts, is_dir, is_link))
                if is_dir and not is_link and (depth is None or len(parts) < depth):
                    visit(full, parts)

        visit(self._path, ())
        return entries

    def walk(
        self,
        filter: Callable[[Any], bool] = lambda p: True,
        dir_filter: Callable[[Any], bool] = lambda p: True,
    ) -> Iterator[Any]:
        """Every path below this directory, depth first, name-sorted; ``dir_filter`` prunes descent.

        Lazy, unlike the shared walk: a directory ``dir_filter`` refuses is never read.
        Links to directories are yielded but not followed.
        """
        try:
            with os.scandir(self._path) as listing:
                found = sorted((e.name, e.is_dir(), e.is_symlink()) for e in listing)
        except OSError:
            return
        for name, is_dir, is_link in found:
            path = self / name
            if filter(path):
                yield path
            if is_dir and not is_link and dir_filter(path):
                yield from path.walk(filter, dir_filter)

    def resolve(self, strict: bool = False) -> LocalPath:
        return LocalPath(os.path.realpath(self._path, strict=strict))

    def expanduser(self) -> LocalPath:
        return LocalPath(os.path.expanduser(self._path))

    def readlink(self) -> LocalPath:
        return LocalPath(os.readlink(self._path))

    # -- content ---------------------------------------------------------------
    def open(self, mode: str = "r", *args: Any, **kwargs: Any) -> IO[Any]:
        return open(self._path, mode, *args, **kwargs)

    def read(self, encoding: str | None = "utf-8", mode: str = "r") -> Any:
        """The file's text (``encoding=None`` for bytes)."""
        if encoding is None or "b" in mode:
            with open(self._path, "rb") as f:
                return f.read()
        with open(self._path, encoding=encoding, newline="") as f:
            return f.read()

    def write(self, data: str | bytes, encoding: str = "utf-8", mode: str | None = None) -> None:
        """Replace the file's content atomically: a reader sees old or new, never half.

        ``mode="a"`` appends instead (not atomic, like any append).
        """
        payload = data.encode(encoding) if isinstance(data, str) else bytes(data)
        if mode is not None and "a" in mode:
            with open(self._path, "ab") as f:
                f.write(payload)
            return
        with atomic_writer(self._path) as f:
            f.write(payload)

    # the ends of a copy between machines (tether.paths.cross)
    def _reader(self) -> IO[bytes]:
        return open(self._path, "rb", buffering=0)

    def _writer(self, mode: int | None = None) -> AtomicFile:
        return AtomicFile(self._path, mode)

    def _tree_reader(self) -> Any:
        return tree_reader(self._path)

    def _tree_writer(self) -> TreeWriter:
        return TreeWriter(self._path)

    # -- changes ---------------------------------------------------------------
    def mkdir(self, mode: int = 0o777, parents: bool = True, exist_ok: bool = True) -> None:
        """Create the directory (with parents, quietly if it exists, as plumbum does)."""
        try:
            if parents:
                os.makedirs(self._path, mode)
            else:
                os.mkdir(self._path, mode)
        except FileExistsError:
            if not (exist_ok and self.is_dir()):
                raise

    def touch(self) -> None:
        with open(self._path, "a"):
            os.utime(self._path)

    def delete(self) -> None:
        """Remove the file, link or directory tree; a missing path is fine."""
        try:
            if self.is_dir() and not self.is_symlink():
                shutil.rmtree(self._path)
            else:
                os.unlink(self._path)
        except FileNotFoundError:
            pass

    remove = delete

    def unlink(self, missing_ok: bool = False) -> None:
        try:
            os.unlink(self._path)
        except FileNotFoundError:
            if not missing_ok:
                raise

    def rmdir(self) -> None:
        os.rmdir(self._path)

    def move(self, dst: Any) -> Any:
        """Move to ``dst`` (into it when it is a directory); returns the new path.

        ``dst`` may be on another machine (a RemotePath): see :mod:`tether.paths.cross`.
        """
        if _elsewhere(dst):
            from .cross import move

            return move(self, dst)
        target = _local_target(self, dst)
        shutil.move(self._path, target._path)
        return target

    rename = move

    def copy(self, dst: Any, override: bool = False) -> Any:
        """Copy the file or directory tree to ``dst`` (into it when it is a directory; on any machine)."""
        if _elsewhere(dst):
            from .cross import copy

            return copy(self, dst, override=override)
        target = _local_target(self, dst)
        if target.exists():
            if not override:
                raise FileExistsError(errno.EEXIST, "destination exists", str(target))
            target.delete()
        if self.is_dir():
            shutil.copytree(self._path, target._path, symlinks=True)
        else:
            shutil.copy2(self._path, target._path)
        return target

    def chmod(self, mode: int) -> None:
        os.chmod(self._path, mode)

    def chown(self, owner: int | str | None = None, group: int | str | None = None, recursive: bool = False) -> None:
        shutil.chown(self._path, owner, group)  # type: ignore[arg-type,call-overload,unused-ignore]
        if recursive and self.is_dir():
            for path in self.walk():
                shutil.chown(path._path, owner, group)  # type: ignore[arg-type,call-overload,unused-ignore]

    def symlink(self, dst: Any) -> None:
        """Create ``dst`` as a symbolic link pointing at this path."""
        os.symlink(self._path, os.fspath(dst))

    def link(self, dst: Any) -> None:
        os.link(self._path, os.fspath(dst))


def _elsewhere(dst: Any) -> bool:
    return isinstance(dst, BasePath) and not isinstance(dst, LocalPath)


def _local_target(src: LocalPath, dst: Any) -> LocalPath:
    if not isinstance(dst, (str, os.PathLike)):
        raise TypeError(f"cannot copy or move a LocalPath to {type(dst).__name__}")
    target = LocalPath(dst)
    return target / src.name if target.is_dir() else target


def _access_mode(mode: str | int) -> int:
    if isinstance(mode, int):
        return mode
    flags = {"r": os.R_OK, "w": os.W_OK, "x": os.X_OK}
    result = 0
    for letter in mode:
        if letter not in flags:
            raise ValueError(f"access mode letters are r, w, x; got {mode!r}")
        result |= flags[letter]
    return result


@contextmanager
def atomic_writer(path: str) -> Iterator[IO[bytes]]:
    """A binary file that replaces ``path`` only when the block ends without error.

    The data goes to a temporary file in the same directory, is flushed to disk
    and renamed over ``path``; the old file's permissions are kept. On error the
    temporary file is removed and ``path`` is untouched.
    """
    with AtomicFile(path) as f:
        yield f  # type: ignore[misc]


@contextmanager
def tempdir() -> Iterator[LocalPath]:
    """A fresh temporary directory as a LocalPath, removed with its content afterwards."""
    path = LocalPath(tempfile.mkdtemp(prefix="tether-"))
    try:
        yield path
    finally:
        path.delete()
