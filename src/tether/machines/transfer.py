"""``rem.upload(src, dst)`` and ``rem.download(src, dst)``, atomic, on every remote machine.

Bytes stream through a channel of the machine's own (the remote ``cat`` or
``tar`` at one end, a local file at the other), so every machine can
transfer and the data never sits in memory. Either way the new content is
written beside the destination under a temporary name and renamed over it
only when complete: an interrupted transfer, even one whose connection was
cut, leaves the old content or nothing, never half a file (see
:mod:`tether.paths.remote_stream` for how the remote end tells the two
apart). Directories travel as a tar stream and keep their files' modes; a
file keeps its mode bits. ``progress(done, total)`` follows the bytes.
"""

from __future__ import annotations

import errno
import os
from typing import Any

from ..paths.cross import Progress, copy
from ..paths.local import LocalPath


def upload(machine: Any, src: Any, dst: Any, progress: Progress | None = None) -> Any:
    """Copy local ``src`` (file or directory) to remote ``dst``; into ``dst`` when it is a directory."""
    source = LocalPath(os.path.abspath(os.fspath(src)))
    if not source.exists():
        raise FileNotFoundError(errno.ENOENT, "nothing to upload: no such file or directory", str(source))
    return copy(source, machine.path(str(dst)), progress=progress)


def download(machine: Any, src: Any, dst: Any, progress: Progress | None = None) -> LocalPath:
    """Copy remote ``src`` (file or directory) to local ``dst``; into ``dst`` when it is a directory."""
    source = machine.path(str(src))
    if not source.exists():
        raise FileNotFoundError(errno.ENOENT, f"nothing to download: no such file or directory on {machine.host}", str(source))
    return copy(source, LocalPath(os.path.abspath(os.fspath(dst))), progress=progress)


__all__ = ["download", "upload"]
