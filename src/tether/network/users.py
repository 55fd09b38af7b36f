"""The Manager's sqlite database: users (scrypt hashes), trusted hostnames, a connections audit.

Passwords are stored as ``scrypt$n$r$p$salt$hash`` (hex), checked with a
constant-time comparison; an unknown user is checked against a dummy hash so
the answer takes as long as for a real one (no user enumeration by timing).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

#: scrypt cost (2**14 * 8 * 128 bytes = 16 MiB of memory per check)
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 14, 8, 1


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            maxmem=64 * 1024 * 1024, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                         maxmem=64 * 1024 * 1024, dklen=len(digest) // 2)
    return hmac.compare_digest(got.hex(), digest)


@functools.cache
def dummy_hash() -> str:
    """What an unknown user's password is checked against (so they cost what known ones do).

    Made on first use, not at import: scrypt takes ~60 ms and clients never need it.
    """
    return hash_password("not a real password", salt=b"\0" * 16)


class Database:
    """One sqlite file with the three tables; safe to use from several threads."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        from .certs import HOME

        self.path = Path(path) if path else HOME / "manager.sqlite3"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.closed = False
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        with self._lock:
            self._db.executescript("""
                CREATE TABLE IF NOT EXISTS users (
                    username TEXT PRIMARY KEY, hash TEXT NOT NULL, is_admin INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS hostnames (hostname TEXT PRIMARY KEY);
                CREATE TABLE IF NOT EXISTS connections (
                    pid INTEGER PRIMARY KEY AUTOINCREMENT, datetime TEXT, ip_address TEXT,
                    port INTEGER, message TEXT);
            """)

    def _run(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._db.close()

    # users ---------------------------------------------------------------
    def add_user(self, username: str, password: str, is_admin: bool = False) -> None:
        if not username or not password:
            raise ValueError("a user needs a non-empty username and password")
        if self._run("SELECT 1 FROM users WHERE username = ?", (username,)):
            raise ValueError(f"user {username!r} already exists")
        self._run("INSERT INTO users VALUES (?, ?, ?)", (username, hash_password(password), int(is_admin)))

    def update_user(self, username: str, password: str | None = None, is_admin: bool | None = None) -> None:
        self._require_user(username)
        if password is not None:
            self._run("UPDATE users SET hash = ? WHERE username = ?", (hash_password(password), username))
        if is_admin is not None:
            self._run("UPDATE users SET is_admin = ? WHERE username = ?", (int(is_admin), username))

    def remove_user(self, username: str) -> None:
        self._require_user(username)
        self._run("DELETE FROM users WHERE username = ?", (username,))

    def _require_user(self, username: str) -> None:
        if not self._run("SELECT 1 FROM users WHERE username = ?", (username,)):
            raise ValueError(f"no user named {username!r}")

    def usernames(self) -> list[str]:
        return [row[0] for row in self._run("SELECT username FROM users ORDER BY username")]

    def users(self) -> list[tuple[str, bool]]:
        """``(username, is_admin)`` pairs; hashes never leave the database."""
        return [(u, bool(a)) for u, a in self._run("SELECT username, is_admin FROM users ORDER BY username")]

    def is_admin(self, username: str) -> bool:
        rows = self._run("SELECT is_admin FROM users WHERE username = ?", (username,))
        return bool(rows and rows[0][0])

    def verify(self, username: str, password: str) -> bool:
        """Constant-time check; unknown users cost the same as known ones."""
        rows = self._run("SELECT hash FROM users WHERE username = ?", (username,))
        ok = check_password(password, rows[0][0] if rows else dummy_hash())
        return ok and bool(rows)

    # hostnames -----------------------------------------------------------
    def hostnames(self) -> list[str]:
        return [row[0] for row in self._run("SELECT hostname FROM hostnames ORDER BY hostname")]

    def add_hostname(self, hostname: str) -> None:
        self._run("INSERT OR IGNORE INTO hostnames VALUES (?)", (hostname,))

    def remove_hostname(self, hostname: str) -> None:
        if not self._run("SELECT 1 FROM hostnames WHERE hostname = ?", (hostname,)):
            raise ValueError(f"{hostname!r} is not a trusted hostname")
        self._run("DELETE FROM hostnames WHERE hostname = ?", (hostname,))

    # connections audit -------------------------------------------------------
    def log_connection(self, ip_address: str, port: int, message: str) -> None:
        if self.closed:  # peers still closing as the Manager shuts down
            return
        now = datetime.datetime.now().isoformat(sep=" ", timespec="milliseconds")
        self._run("INSERT INTO connections (datetime, ip_address, port, message) VALUES (?, ?, ?, ?)",
                  (now, ip_address, port, message))

    def connections(self, limit: int = 1000) -> list[tuple[Any, ...]]:
        rows = self._run("SELECT pid, datetime, ip_address, port, message FROM connections "
                         "ORDER BY pid DESC LIMIT ?", (int(limit),))
        return rows[::-1]
