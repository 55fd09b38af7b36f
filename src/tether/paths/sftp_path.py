"""Paths on a NativeSshMachine: questions and reads go over SFTP on the machine's own connection.

``exists``/``is_*``, ``stat``, listings, globs and walks, ``readlink``,
``chmod``, ``symlink``, ``rmdir``, ``unlink`` and reads (downloads,
``read()``, ``open("rb")``) are SFTP requests (:mod:`tether.transports.sftp`);
a whole recursive listing is one hop to the SSH loop. Everything else, and
every error SFTP v3 can only call "failure", goes to the shell as on the
other machines, so behaviour and error classes are the same everywhere.
Writes stream over channels with the framed, crash-safe writer (see
:mod:`tether.paths.remote_stream`): an SFTP upload cut off by a dying
server would leave its temporary file behind.

One difference: ``stat()`` has no inode, device or link count (SFTP v3
does not send them); they read 0.
"""

from __future__ import annotations

import builtins
import functools
import os
import stat as stat_module
from collections.abc import Callable
from typing import Any

from ..transports.sftp import SftpVague
from .pattern import Entry
from .remote import RemotePath


def _or_shell(method: Callable) -> Callable:
    """Use ``method`` when the server offers SFTP, else RemotePath's shell version of it."""
    name = method.__name__

    @functools.wraps(method)
    def choose(self: SftpPath, *args: Any, **kwargs: Any) -> Any:
        if self._machine.aio.sftp() is None:
            return getattr(super(SftpPath, self), name)(*args, **kwargs)
        return method(self, *args, **kwargs)

    return choose


class SftpPath(RemotePath):
    """A RemotePath whose file-system questions go over SFTP (or the shell, on a server without it)."""

    __slots__ = ()

    @property
    def _sftp(self) -> Any:
        return self._machine.aio.sftp()

    def _mode(self, follow: bool = True) -> int | None:
        try:
            return self._sftp.stat(self._path, follow).st_mode
        except OSError:
            return None

    @_or_shell
    def exists(self) -> bool:
        return self._mode() is not None

    @_or_shell
    def is_file(self) -> bool:
        mode = self._mode()
        return mode is not None and stat_module.S_ISREG(mode)

    @_or_shell
    def is_dir(self) -> bool:
        mode = self._mode()
        return mode is not None and stat_module.S_ISDIR(mode)

    @_or_shell
    def is_symlink(self) -> bool:
        mode = self._mode(follow=False)
        return mode is not None and stat_module.S_ISLNK(mode)

    isfile, isdir, islink = is_file, is_dir, is_symlink

    @_or_shell
    def stat(self) -> os.stat_result:
        return self._sftp.stat(self._path)

    @_or_shell
    def lstat(self) -> os.stat_result:
        return self._sftp.stat(self._path, follow=False)

    @_or_shell
    def _scan(self, depth: int | None) -> builtins.list[Entry]:
        return [Entry(parts, is_dir, is_link) for parts, is_dir, is_link in self._sftp.scan(self._path, depth)]

    @_or_shell
    def _reader(self) -> Any:
        # measured (bench transfer.download): asyncssh's pipelined SFTP reads beat a `cat` channel;
        # the local end stays atomic, so a cut connection still leaves the old file
        return self._sftp.reader(self._path)

    @_or_shell
    def readlink(self) -> RemotePath:
        return self._new(os.fsdecode(self._sftp.simple("readlink", self._path)))

    @_or_shell
    def chmod(self, mode: int) -> None:
        self._sftp.simple("chmod", self._path, mode)

    @_or_shell
    def symlink(self, dst: Any) -> None:
        link = str(self._new(dst))
        try:
            self._sftp.simple("symlink", self._path, link)
        except SftpVague:  # exists already, or no such directory: the shell says which
            super().symlink(dst)

    @_or_shell
    def rmdir(self) -> None:
        try:
            self._sftp.simple("rmdir", self._path)
        except SftpVague:  # not empty, or not a directory
            super().rmdir()

    @_or_shell
    def unlink(self, missing_ok: bool = False) -> None:
        try:
            self._sftp.simple("remove", self._path)
        except FileNotFoundError:
            if not missing_ok:
                raise
        except SftpVague:  # a directory, most likely
            super().unlink(missing_ok)
