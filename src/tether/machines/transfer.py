"""``rem.upload(src, dst)`` and ``rem.download(src, dst)``, atomic, on every remote machine.

Bytes stream through the machine's own command channel (the remote
``cat``/``tar`` at one end, a local file at the other), so every machine
can transfer and the data never sits in memory. Either way the new content
is written beside the destination under a temporary name and renamed over
it only when complete: an interrupted transfer leaves the old content, or
nothing, never half a file. Directories travel as a tar stream and keep
their files' modes; a file keeps its mode bits.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
import tempfile
from typing import Any

from ..paths.local import LocalPath
from ..transports.base import DEVNULL

# remote side of an upload: write to a temp name beside "$1", then rename over it
_RECEIVE_FILE = (
    'd=$(dirname -- "$1") && t=$(mktemp "$d/.tether-XXXXXX") || exit 1; '
    'trap \'rm -f -- "$t"\' HUP INT TERM PIPE; '
    'if cat >"$t" && chmod "$2" "$t" && mv -f -- "$t" "$1"; then exit 0; fi; rm -f -- "$t"; exit 1'
)
_RECEIVE_TREE = (
    'd=$(dirname -- "$1") && t=$(mktemp -d "$d/.tether-XXXXXX") || exit 1; '
    'trap \'rm -rf -- "$t"\' HUP INT TERM PIPE; '
    'if tar -xf - -C "$t" && rm -rf -- "$1" && mv -f -- "$t" "$1"; then exit 0; fi; rm -rf -- "$t"; exit 1'
)


def upload(machine: Any, src: Any, dst: Any) -> Any:
    """Copy local ``src`` (file or directory) to remote ``dst``; into ``dst`` when it is a directory."""
    source = LocalPath(os.path.abspath(os.fspath(src)))
    if not source.exists():
        raise FileNotFoundError(f"nothing to upload: {source} does not exist")
    target = machine.path(str(dst))
    if target.is_dir():
        target = target / source.name
    sh = machine["sh"]
    if source.is_dir():
        tar = _local_tar(source)
        (tar | sh["-c", _RECEIVE_TREE, "sh", str(target)])()
    else:
        mode = format(stat.S_IMODE(os.stat(source).st_mode), "o")
        (sh["-c", _RECEIVE_FILE, "sh", str(target), mode] < source)()
    return target


def download(machine: Any, src: Any, dst: Any) -> LocalPath:
    """Copy remote ``src`` (file or directory) to local ``dst``; into ``dst`` when it is a directory."""
    source = machine.path(str(src))
    target = LocalPath(os.path.abspath(os.fspath(dst)))
    if target.is_dir():
        target = target / source.name
    if source.is_dir():
        _download_tree(machine, source, target)
    elif source.exists():
        _download_file(machine, source, target)
    else:
        raise FileNotFoundError(f"nothing to download: {source} does not exist on {machine.host}")
    return target


def _download_file(machine: Any, source: Any, target: LocalPath) -> None:
    fd, temp = tempfile.mkstemp(prefix=".tether-", dir=os.path.dirname(target) or ".")
    os.close(fd)
    try:
        (machine["cat"][str(source)] > LocalPath(temp))()
        mode = machine["stat"]("-c", "%a", str(source)).strip()
        os.chmod(temp, int(mode, 8))
        os.replace(temp, target)
    except BaseException:
        _remove(temp)
        raise


def _download_tree(machine: Any, source: Any, target: LocalPath) -> None:
    temp = tempfile.mkdtemp(prefix=".tether-", dir=os.path.dirname(target) or ".")
    try:
        parent, name = posixpath.split(str(source))
        stream = machine["tar"]["-cf", "-", "-C", parent or "/", name].popen(stdin=DEVNULL)
        with tarfile.open(fileobj=stream.stdout, mode="r|") as tar:
            tar.extractall(temp, filter="tar")  # refuses absolute paths and links out of the tree
        stream.run()  # the exit code: a tar that failed half-way must not count
        if target.exists():
            target.delete()
        os.replace(os.path.join(temp, name), target)
    finally:
        LocalPath(temp).delete()


def _local_tar(source: LocalPath) -> Any:
    from .local import local

    return local["tar"]["-cf", "-", "-C", str(source), "."]


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


__all__ = ["download", "upload"]
