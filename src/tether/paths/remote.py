"""Paths on a remote machine: ``rem.path("/bin") / "ls"``.

::

    p = rem.path("/srv/app")
    p // ("*.py", "**/*.txt")        # one round trip, however deep
    (p / "conf.ini").read()          # text; read(None) gives bytes
    (p / "new.ini").write("x = 1")   # atomic: a temp file beside it, renamed when complete
    with (p / "big.log").open("rb") as f:   # streams; nothing held in memory
        head = f.read(4096)

Queries and changes run in the machine's control shell (one round trip each,
no new process); listings come back NUL-delimited and every name reaches the
shell quoted, so names with spaces, newlines, quotes, unicode or a leading
``-`` all work. Contents stream over channels of their own
(:mod:`tether.paths.remote_stream`). A failed change raises the ``OSError``
subclass pathlib would (``FileNotFoundError``, ``FileExistsError``, ...),
naming the path and host.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import re
from collections.abc import Iterator
from typing import IO, Any

from ..commands.quoting import quote
from ..transports.base import PIPE
from .base import BasePath
from .pattern import Entry
from .remote_stream import (
    RECEIVE_TREE,
    SEND_TREE,
    Channel,
    ChannelReader,
    RemoteWriter,
    script_line,
)

# what the remote's error message says -> errno (GNU coreutils' wording; matched without case,
# so busybox's "'x' is a directory" reads the same)
_ERRNO_BY_TEXT = [
    ("No such file or directory", errno.ENOENT),
    ("File exists", errno.EEXIST),
    ("Not a directory", errno.ENOTDIR),
    ("Is a directory", errno.EISDIR),
    ("Directory not empty", errno.ENOTEMPTY),
    ("Permission denied", errno.EACCES),
    ("Operation not permitted", errno.EPERM),
]
_USER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9._-]*\Z")
# GNU stat: raw mode (hex), ino, dev, nlink, uid, gid, size, atime, mtime, ctime
_STAT_FORMAT = "%f %i %d %h %u %g %s %X %Y %Z"


_SCAN_RECORDS = quote(
    'for p do l=-; d=-; [ -L "$p" ] && l=l; [ -d "$p" ] && d=d; printf "%s%s%s\\0" "$l" "$d" "${p#./}"; done'
)


class RemotePath(BasePath):
    """A path on ``machine`` (a remote machine of the sync API)."""

    __slots__ = ("_machine",)

    def __init__(self, machine: Any, *parts: Any) -> None:
        self._machine = machine
        super().__init__(*parts)

    def _new(self, *parts: Any) -> Any:
        return type(self)(self._machine, *parts)

    def __rtruediv__(self, other: Any) -> Any:
        return type(self)(self._machine, other, self._path)

    def __repr__(self) -> str:
        return f"<RemotePath {self._path}>"  # whatever serves it (the shell, or SFTP)

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

    # -- the control shell -------------------------------------------------------
    @property
    def _q(self) -> str:
        return quote(self._path)

    def _test(self, flag: str) -> bool:
        rc, _, _ = self._machine._control(f"test {flag} {self._q}", retcode=None)
        return rc == 0

    def _do(self, line: str, path: Any = None) -> str:
        """Run ``line``; its stdout, or the OSError its stderr describes."""
        rc, out, err = self._machine._control(line, retcode=None)
        if rc != 0:
            raise self._error(err, path if path is not None else self._path)
        return str(out)

    def _error(self, stderr: str, path: Any) -> OSError:
        said_lower = stderr.lower()
        code = next((number for text, number in _ERRNO_BY_TEXT if text.lower() in said_lower), errno.EIO)
        said = stderr.strip().splitlines()[-1] if stderr.strip() else os.strerror(code)
        return OSError(code, f"{said} (on {self._machine.host})", str(path))

    # -- queries -------------------------------------------------------------------
    def exists(self) -> bool:
        return self._test("-e")

    def is_file(self) -> bool:
        return self._test("-f")  # follows symlinks, as pathlib does

    def is_dir(self) -> bool:
        return self._test("-d")

    def is_symlink(self) -> bool:
        return self._test("-L")

    isfile, isdir, islink = is_file, is_dir, is_symlink

    def stat(self) -> os.stat_result:
        """The file's status, following symlinks (``lstat`` does not)."""
        return self._stat("-L ")

    def lstat(self) -> os.stat_result:
        return self._stat("")

    def _stat(self, follow: str) -> os.stat_result:
        fields = self._do(f"stat {follow}-c '{_STAT_FORMAT}' -- {self._q}").split()
        mode, *rest = fields
        return os.stat_result((int(mode, 16), *map(int, rest)))

    def list(self) -> builtins.list[RemotePath]:
        """The directory's entries, sorted by name."""
        return [self / entry.parts[0] for entry in sorted(self._scan(1), key=lambda e: e.parts)]

    def iterdir(self) -> Iterator[RemotePath]:
        return iter(self.list())

    def _scan(self, depth: int | None) -> builtins.list[Entry]:
        # one record per entry: "l" if a link, "d" if a directory through links, the path below here;
        # plain test/printf, so busybox find (no -printf) serves as well as GNU find
        limit = f" -maxdepth {int(depth)}" if depth is not None else ""
        out = self._do(f"cd -- {self._q} && find . -mindepth 1{limit} -exec sh -c {_SCAN_RECORDS} sh {{}} +")
        return [
            Entry(tuple(record[2:].split("/")), record[1] == "d", record[0] == "l")
            for record in out.split("\0")
            if len(record) > 2
        ]

    def resolve(self, strict: bool = False) -> RemotePath:
        flag = "-e" if strict else "-m"
        return self._new(self._do(f"readlink {flag} -- {self._q}").rstrip("\n"))

    def readlink(self) -> RemotePath:
        return self._new(self._do(f"readlink -- {self._q}")[:-1])

    def expanduser(self) -> RemotePath:
        """``~`` and ``~user`` at the start become home directories (the remote's)."""
        text = self._path
        if not text.startswith("~"):
            return self
        user, _, rest = text[1:].partition("/")
        if not user:
            home = self._machine.env.get("HOME") or self._machine.aio._state().home  # what the shell's ~ means
        elif _USER_NAME.match(user):
            home = self._do(f"printf '%s' ~{user}")  # the name is checked: tilde expansion needs it bare
            if home.startswith("~"):
                raise LookupError(f"no user {user!r} on {self._machine.host}")
        else:
            raise ValueError(f"not a user name: {user!r}")
        return self._new(home, rest) if rest else self._new(home)

    # -- content ----------------------------------------------------------------------
    def open(self, mode: str = "r", buffering: int = -1, encoding: str | None = None, **text_options: Any) -> IO[Any]:
        """A streaming file: ``"r"``/``"rb"`` read, ``"w"``/``"wb"`` write (atomically, at close).

        A write that ends in an exception (in a ``with`` block) leaves the old
        file as it was.
        """
        kind = mode.replace("t", "")
        if kind not in ("r", "rb", "w", "wb"):
            raise ValueError(f"remote files open with 'r', 'rb', 'w' or 'wb', not {mode!r}")
        raw: Any = self._reader() if kind.startswith("r") else self._writer()
        if "b" in kind:
            return io.BufferedReader(raw, max(buffering, io.DEFAULT_BUFFER_SIZE)) if kind == "rb" else raw
        return _text(raw, kind, encoding or "utf-8", text_options)

    def _reader(self) -> ChannelReader:
        return self._read_command(f"exec cat -- {self._q}", f"reading {self._path}")

    def _read_command(self, line: str, what: str) -> ChannelReader:
        return ChannelReader(Channel.remote(self._machine, line, stdout=PIPE), what)

    def _writer(self, mode: int | None = None) -> RemoteWriter:
        return RemoteWriter(self._machine, self._path, mode=mode)

    def _tree_reader(self) -> ChannelReader:
        return self._read_command(script_line(SEND_TREE, self._path), f"packing {self._path}")

    def _tree_writer(self) -> RemoteWriter:
        return RemoteWriter(self._machine, self._path, script=RECEIVE_TREE)

    def read(self, encoding: str | None = "utf-8") -> Any:
        """The file's content: text, or bytes when ``encoding`` is None."""
        with self._reader() as f:
            data = f.readall()
        return data if encoding is None else data.decode(encoding)

    def write(self, data: str | bytes, encoding: str = "utf-8") -> None:
        """Replace the content atomically: written beside the file, then renamed over it."""
        payload = data.encode(encoding) if isinstance(data, str) else bytes(data)
        with self._writer() as f:
            f.write(payload)

    # -- changes -------------------------------------------------------------------------
    def mkdir(self, mode: int | None = None, parents: bool = True, exist_ok: bool = True) -> None:
        """Create the directory (with parents, quietly if it exists, as plumbum does)."""
        flags = ("-p " if parents else "") + (f"-m {mode:o} " if mode is not None else "")
        make = f"mkdir {flags}-- {self._q}"
        if exist_ok:  # one trip: an existing directory is fine, anything else is mkdir's to refuse
            self._do(f"[ -d {self._q} ] || {make}")
        elif parents:  # mkdir -p would accept an existing directory: refuse it here (no exit: a shared shell)
            self._do(f"if [ -e {self._q} ]; then echo 'File exists' >&2; false; else {make}; fi")
        else:
            self._do(make)

    def touch(self) -> None:
        self._do(f"touch -- {self._q}")

    def delete(self) -> None:
        """Remove the file, link or directory tree; a missing path is fine."""
        self._do(f"rm -rf -- {self._q}")

    remove = delete

    def unlink(self, missing_ok: bool = False) -> None:
        self._do(f"rm {'-f ' if missing_ok else ''}-- {self._q}")  # rm refuses a directory: IsADirectoryError

    def rmdir(self) -> None:
        self._do(f"rmdir -- {self._q}")

    def chmod(self, mode: int) -> None:
        self._do(f"chmod {mode:o} -- {self._q}")

    def chown(self, owner: int | str | None = None, group: int | str | None = None, recursive: bool = False) -> None:
        """Change owner and/or group (names or ids); ``recursive`` for a whole tree."""
        if owner is None and group is None:
            raise ValueError("chown needs an owner, a group or both")
        spec = ("" if owner is None else str(owner)) + ("" if group is None else f":{group}")
        self._do(f"chown {'-R ' if recursive else ''}-- {quote(spec)} {self._q}")

    def symlink(self, dst: Any) -> None:
        """Create ``dst`` (on this machine) as a symbolic link pointing at this path."""
        self._do(f"ln -s -- {self._q} {quote(str(self._new(dst)))}", dst)

    def link(self, dst: Any) -> None:
        self._do(f"ln -- {self._q} {quote(str(self._new(dst)))}", dst)

    def move(self, dst: Any) -> Any:
        """Move to ``dst`` (into it when it is a directory), on this machine or another."""
        from .cross import move

        return move(self, dst)

    rename = move

    def copy(self, dst: Any, override: bool = False) -> Any:
        """Copy the file or tree to ``dst`` (into it when it is a directory), on this machine or another."""
        from .cross import copy

        return copy(self, dst, override=override)


def _text(raw: Any, kind: str, encoding: str, options: dict) -> IO[str]:
    if kind == "r":
        return io.TextIOWrapper(io.BufferedReader(raw), encoding=encoding, **options)
    return _TextWriter(raw, encoding, options)


class _TextWriter(io.TextIOWrapper):
    """Text over a RemoteWriter: a ``with`` block that raises discards the file, as in binary mode."""

    def __init__(self, raw: RemoteWriter, encoding: str, options: dict) -> None:
        super().__init__(io.BufferedWriter(raw), encoding=encoding, **options)
        self._remote = raw

    def __exit__(self, kind: Any, *rest: Any) -> None:
        if kind is None:
            self.close()
            return
        self._abort()

    def _abort(self) -> None:
        self._remote.abort()
        try:
            self.close()
        except ValueError:  # the buffer's flush meets the aborted file
            pass

    def __del__(self) -> None:
        if not self.closed:  # dropped without close(): no commit
            self._abort()
