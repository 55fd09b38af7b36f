"""File-system questions over SFTP, on an open asyncssh connection.

One SFTP session per connection, opened on first use. Calls come from any
thread and run on tether's SSH loop; a recursive listing is one call there
(many requests, one hop from the caller). Paths travel as bytes
(``os.fsencode``), so a name that is not UTF-8 survives the round trip.

Errors become the ``OSError`` subclass the SFTP status names
(``FileNotFoundError``, ``PermissionError``, ...). OpenSSH's server speaks
SFTP version 3, whose catch-all "failure" says nothing of the cause: that
one is raised as :class:`SftpVague`, and callers that owe the user a precise
error (``rmdir`` of a full directory) ask the shell instead.
"""

from __future__ import annotations

import asyncio
import errno
import io
import os
import posixpath
import stat
from collections.abc import Awaitable, Callable
from typing import Any

from .._portal import ssh_portal
from ..exceptions import ConnectError
from .native import open_with_retry

READ_AHEAD = 8 << 20


class SftpUnavailable(Exception):
    """The server refused the SFTP subsystem (the machine then uses its shell)."""


class SftpVague(OSError):
    """The server answered only "failure" (SFTP v3): the cause is unknown."""


def _errno_of(exc: Any) -> int | None:
    from .asyncssh_import import asyncssh

    return {
        asyncssh.FX_NO_SUCH_FILE: errno.ENOENT,
        asyncssh.FX_NO_SUCH_PATH: errno.ENOENT,
        asyncssh.FX_PERMISSION_DENIED: errno.EACCES,
        asyncssh.FX_FILE_ALREADY_EXISTS: errno.EEXIST,
        asyncssh.FX_DIR_NOT_EMPTY: errno.ENOTEMPTY,
        asyncssh.FX_NOT_A_DIRECTORY: errno.ENOTDIR,
        asyncssh.FX_FILE_IS_A_DIRECTORY: errno.EISDIR,
    }.get(exc.code)


class SftpSession:
    """The SFTP client of one connection, for blocking callers."""

    def __init__(self, conn: Any, host: str) -> None:
        from .asyncssh_import import asyncssh

        self.host = host
        try:
            self._client = ssh_portal.call(open_with_retry, conn.start_sftp_client)
        except (asyncssh.ChannelOpenError, asyncssh.SFTPError) as exc:
            raise SftpUnavailable(f"{host} offers no SFTP: {exc}") from exc

    def _call(self, path: str, operation: Callable[[], Awaitable[Any]]) -> Any:
        from .asyncssh_import import asyncssh

        async def run() -> Any:
            return await operation()

        try:
            return ssh_portal.call(run)
        except asyncssh.SFTPError as exc:
            number = _errno_of(exc)
            said = f"{exc.reason or 'failure'} (on {self.host}, SFTP)"
            if number is None:
                raise SftpVague(errno.EIO, said, path) from None
            raise OSError(number, said, path) from None
        except asyncssh.Error as exc:  # the connection went away under the request
            raise ConnectError(f"SFTP request for {path} failed: {exc.reason}", self.host) from exc

    def stat(self, path: str, follow: bool = True) -> os.stat_result:
        client = self._client
        attrs = self._call(path, lambda: client.stat(os.fsencode(path), follow_symlinks=follow))
        return _stat_result(attrs)

    def scan(self, path: str, depth: int | None) -> list[tuple[tuple[str, ...], bool, bool]]:
        """``(parts, is_dir, is_link)`` for everything below ``path``, ``depth`` levels deep (None: all)."""
        client = self._client

        async def walk() -> list[tuple[tuple[str, ...], bool, bool]]:
            found = []
            pending: list[tuple[str, ...]] = [()]
            while pending:
                parts = pending.pop()
                where = os.fsencode(posixpath.join(path, *parts))
                async for entry in client.scandir(where):
                    name = os.fsdecode(entry.filename)
                    if name in (".", ".."):
                        continue
                    mode = entry.attrs.permissions or 0
                    is_link = stat.S_ISLNK(mode)
                    is_dir = stat.S_ISDIR(mode)
                    if is_link:  # a link counts as what it points at, as in pathlib
                        try:
                            is_dir = stat.S_ISDIR((await client.stat(where + b"/" + entry.filename)).permissions or 0)
                        except Exception:  # dangling
                            is_dir = False
                    child = (*parts, name)
                    found.append((child, is_dir, is_link))
                    if is_dir and not is_link and (depth is None or len(child) < depth):
                        pending.append(child)
            return found

        return self._call(path, walk)

    def simple(self, method: str, path: str, *more: Any) -> Any:
        """``client.<method>(path, *more)``: rmdir, remove, chmod, readlink, symlink, posix_rename."""
        client = self._client
        args = [os.fsencode(a) if isinstance(a, str) else a for a in more]
        return self._call(path, lambda: getattr(client, method)(os.fsencode(path), *args))

    def reader(self, path: str) -> SftpReader:
        """The remote file as a binary stream; asyncssh keeps many read requests in flight."""
        client = self._client
        return SftpReader(self._call(path, lambda: client.open(os.fsencode(path), "rb")), self, path)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            ssh_portal.loop.call_soon_threadsafe(client.exit)


def _stat_result(attrs: Any) -> os.stat_result:
    # SFTP v3 has no inode, device or link count: those are 0 here
    return os.stat_result((
        attrs.permissions or 0, 0, 0, attrs.nlink or 0, attrs.uid or 0, attrs.gid or 0, attrs.size or 0,
        int(attrs.atime or 0), int(attrs.mtime or 0), int(attrs.ctime or attrs.mtime or 0),
    ))


class SftpReader(io.RawIOBase):
    """An open SFTP file, read ahead: the next piece is on its way while the caller writes this one.

    asyncssh keeps many requests in flight within a piece; reading ahead
    keeps them in flight between pieces too. A connection lost mid-file
    raises instead of ending early, so a download can never mistake a cut
    for the end.
    """

    def __init__(self, handle: Any, session: SftpSession, path: str) -> None:
        self._handle = handle
        self._session = session
        self._path = path
        self._data = memoryview(b"")
        self._next: Any = None
        self._ended = False

    def readable(self) -> bool:
        return True

    def _ask(self) -> None:
        handle = self._handle

        async def piece() -> bytes:
            return await handle.read(READ_AHEAD)

        self._next = ssh_portal.submit(piece)

    def readinto(self, buffer: Any) -> int:
        if not self._data and not self._ended:
            if self._next is None:
                self._ask()
            waiting, self._next = self._next, None
            data = self._session._call(self._path, lambda: asyncio.wrap_future(waiting))
            self._ended = not data
            if data:
                self._ask()
            self._data = memoryview(data)
        count = min(len(buffer), len(self._data))
        buffer[:count] = self._data[:count]
        self._data = self._data[count:]
        return count

    def close(self) -> None:
        if self.closed:
            return
        if self._next is not None:
            # let the piece in flight land first: closing the handle under asyncssh's
            # parallel requests makes them fail noisily on the loop
            try:
                self._next.result(30)
            except Exception:  # whatever it was, we no longer want it
                pass
        handle = self._handle
        try:
            self._session._call(self._path, handle.close)
        except (OSError, ConnectionError):  # the connection may be gone: nothing to release
            pass
        super().close()
