"""Copy, move and delete between any two machines: ``tether.path.copy(src, dst)``.

::

    from tether import path
    path.copy(local.path("build"), rem.path("/srv"))          # upload a tree
    path.copy(rem_a.path("/data/x.bin"), rem_b.path("/data"))  # remote to remote
    path.move(rem.path("/tmp/report.pdf"), "out/")             # download, then delete
    path.delete(rem.path("/tmp/scratch"), "local-junk")

Both ends are written through the same face (``write``/``close``/``abort``),
whatever machine they are on: the destination is built under a temporary
name beside it and renamed into place only when complete, so an interrupted
copy leaves the old content or nothing. Between two remote machines the
bytes stream through this process in chunks, never to a local temporary
copy. Files keep their permission bits; trees travel as tar streams.
Within one remote machine a copy or move runs there (``cp -a``, ``mv``).

``progress(done, total)`` is called as bytes arrive (``total`` is None for
trees, whose size is not known in advance).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import time
from collections.abc import Callable
from typing import Any

from .base import BasePath
from .local import LocalPath
from .remote_stream import COPY_HERE, script_line

Progress = Callable[[int, "int | None"], None]

CHUNK = 1 << 20

log = logging.getLogger("tether.transfer")


def as_path(where: Any) -> BasePath:
    """A path object for ``where``: a tether path as it is, text or ``os.PathLike`` as a local path."""
    if isinstance(where, BasePath):
        return where
    if isinstance(where, (str, os.PathLike)):
        return LocalPath(os.path.abspath(os.fspath(where)))
    raise TypeError(f"not a path: {where!r}")


def copy(src: Any, dst: Any, *, override: bool = True, progress: Progress | None = None) -> Any:
    """Copy file or tree ``src`` to ``dst`` (into ``dst`` when it is a directory); returns the new path.

    An existing destination is replaced atomically, unless ``override`` is
    False (then FileExistsError).
    """
    source, target = as_path(src), as_path(dst)
    try:
        info = source.stat()  # one question answers: there? a directory? its mode and size?
    except FileNotFoundError:
        raise FileNotFoundError(
            errno.ENOENT, f"nothing to copy: no such file or directory{_on(source)}", str(source)
        ) from None
    if target.is_dir():
        target = target / source.name
    if not override and target.exists():
        raise FileExistsError(errno.EEXIST, f"the destination exists{_on(target)}", str(target))
    if _same_remote(source, target):
        source._do(script_line(COPY_HERE, str(target), str(source)))  # type: ignore[attr-defined]
        log.debug("copied %s -> %s%s (there)", source, target, _on(target))
        return target
    started = time.monotonic()
    if stat.S_ISDIR(info.st_mode):
        with source._tree_reader() as reader, target._tree_writer() as writer:
            moved = pump(reader, writer, None, progress)
    else:
        with source._reader() as reader, target._writer(stat.S_IMODE(info.st_mode)) as writer:
            moved = pump(reader, writer, info.st_size, progress)
    log.debug("copied %s%s -> %s%s: %d bytes in %.1f ms", source, _on(source), target, _on(target), moved,
              (time.monotonic() - started) * 1000)
    return target


def move(src: Any, dst: Any, *, progress: Progress | None = None) -> Any:
    """Move ``src`` to ``dst`` (into it when it is a directory): a rename on one machine, else copy then delete."""
    source, target = as_path(src), as_path(dst)
    if isinstance(source, LocalPath) and isinstance(target, LocalPath):
        return source.move(target)
    if _same_remote(source, target):
        if target.is_dir():
            target = target / source.name
        source._do(f"mv -fT -- {source._q} {target._q}")  # type: ignore[attr-defined]
        return target
    moved = copy(source, target, progress=progress)
    source.delete()
    return moved


def delete(*paths: Any) -> None:
    """Remove each file, link or tree, on whatever machine; missing ones are fine."""
    for where in paths:
        as_path(where).delete()


def pump(reader: Any, writer: Any, total: int | None, progress: Progress | None) -> int:
    """Move every byte from ``reader`` to ``writer``, reporting ``progress(done, total)``."""
    if progress is not None:
        progress(0, total)
    if total is not None and hasattr(writer, "send_file") and _is_regular_file(reader):
        # a local file to a remote one: the kernel moves the bytes into the channel's pipe
        report = (lambda done: progress(done, total)) if progress is not None else None
        return writer.send_file(reader, total, report)
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    done = 0
    while True:
        count = reader.readinto(buffer)
        if not count:
            break
        writer.write(view[:count])
        done += count
        if progress is not None:
            progress(done, total)
    return done


def _is_regular_file(reader: Any) -> bool:
    try:
        return stat.S_ISREG(os.fstat(reader.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):
        return False


def _same_remote(a: BasePath, b: BasePath) -> bool:
    return not isinstance(a, LocalPath) and not isinstance(b, LocalPath) and a._same_machine(b)


def _on(path: BasePath) -> str:
    host = getattr(getattr(path, "machine", None), "host", None)
    return f" on {host}" if host else ""


__all__ = ["as_path", "copy", "delete", "move", "pump"]
