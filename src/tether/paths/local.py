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
import glob
import os
import shutil
import stat as stat_module
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from .base import BasePath


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

    @property
    def uid(self) -> int:
        return self.stat().st_uid

    @property
    def gid(self) -> int:
        return self.stat().st_gid

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

    def walk(
        self,
        filter: Callable[[LocalPath], bool] = lambda p: True,
        dir_filter: Callable[[LocalPath], bool] = lambda p: True,
    ) -> Iterator[LocalPath]:
        """Every path below this directory (depth first); ``dir_filter`` prunes descent."""
        for path in self.list():
            if filter(path):
                yield path
            if path.is_dir() and not path.is_symlink() and dir_filter(path):
                yield from path.walk(filter, dir_filter)

    def glob(self, pattern: str | Iterable[str]) -> builtins.list[LocalPath]:
        """Paths matching ``pattern`` (or any of several), sorted; ``**`` recurses."""
        patterns = [pattern] if isinstance(pattern, str) else list(pattern)
        found: set[str] = set()
        for pat in patterns:
            full = os.path.join(glob.escape(self._path), pat)
            found.update(glob.glob(full, recursive=True))
        return [LocalPath(p) for p in sorted(found)]

    def __floordiv__(self, pattern: str | Iterable[str]) -> builtins.list[LocalPath]:
        return self.glob(pattern)

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

    def read_bytes(self) -> bytes:
        return self.read(None)

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read(encoding)

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

    def write_bytes(self, data: bytes) -> None:
        self.write(data)

    def write_text(self, data: str, encoding: str = "utf-8") -> None:
        self.write(data, encoding)

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

    def move(self, dst: Any) -> LocalPath:
        """Move to ``dst`` (into it when it is a directory); returns the new path."""
        target = _local_target(self, dst)
        shutil.move(self._path, target._path)
        return target

    rename = move

    def copy(self, dst: Any, override: bool = False) -> LocalPath:
        """Copy the file or directory tree to ``dst`` (into it when it is a directory)."""
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


def _local_target(src: LocalPath, dst: Any) -> LocalPath:
    if not isinstance(dst, (str, os.PathLike)):
        raise TypeError(f"cannot copy or move a LocalPath to {type(dst).__name__}; use tether.path.copy")
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
    directory = os.path.dirname(path) or "."
    fd, temp = tempfile.mkstemp(prefix=".tether-", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(temp, stat_module.S_IMODE(os.stat(path).st_mode))
        except FileNotFoundError:
            os.chmod(temp, 0o666 & ~_umask())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    # /proc tells without the set-and-restore race of os.umask in threaded code
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


@contextmanager
def tempdir() -> Iterator[LocalPath]:
    """A fresh temporary directory as a LocalPath, removed with its content afterwards."""
    path = LocalPath(tempfile.mkdtemp(prefix="tether-"))
    try:
        yield path
    finally:
        path.delete()
