"""Who may join a Manager: no check, a shared password, trusted hostnames, or a user login.

:class:`Authenticator` holds the mode and its data; the Manager asks it
questions and it answers after a delay that grows with the failures recently
seen from that source address (so guessing passwords is slow), never faster
for an unknown user than for a known one.
"""

from __future__ import annotations

import asyncio
import enum
import hmac
import time

from .users import Database, dummy_hash


class AuthMode(enum.Enum):
    NONE = "none"
    PASSWORD = "password"
    HOSTNAME = "hostname"
    LOGIN = "login"


class Throttle:
    """Failed attempts per source address; each one doubles the next answer's delay (max 8 s)."""

    def __init__(self, base: float = 0.05, cap: float = 8.0, forget_after: float = 600.0) -> None:
        self.base, self.cap, self.forget_after = base, cap, forget_after
        self._failures: dict[str, tuple[int, float]] = {}

    def delay(self, source: str) -> float:
        count, when = self._failures.get(source, (0, 0.0))
        if not count or time.monotonic() - when > self.forget_after:
            return 0.0
        return min(self.cap, self.base * 2 ** (count - 1))

    def failed(self, source: str) -> None:
        count, _ = self._failures.get(source, (0, 0.0))
        self._failures[source] = (count + 1, time.monotonic())
        if len(self._failures) > 10_000:  # bounded memory under a scan
            oldest = min(self._failures, key=lambda k: self._failures[k][1])
            del self._failures[oldest]

    def succeeded(self, source: str) -> None:
        self._failures.pop(source, None)


class Authenticator:
    def __init__(self, database: Database, mode: AuthMode = AuthMode.NONE,
                 password: str | None = None, throttle: Throttle | None = None) -> None:
        if mode is AuthMode.PASSWORD and not password:
            raise ValueError("auth_password mode needs a non-empty password")
        if mode is AuthMode.LOGIN and not database.usernames():
            raise ValueError(
                f"the users table in {database.path} is empty, so no one could log in; "
                "add one with: tether network user add NAME --admin")
        if mode is AuthMode.LOGIN:
            dummy_hash()  # made now, so the first unknown-user login is not faster than later ones
        self.database = database
        self.mode = mode
        self._password = password
        self.throttle = throttle or Throttle()

    @classmethod
    def from_options(cls, database: Database, auth_hostname: bool = False, auth_login: bool = False,
                     auth_password: str | None = None) -> Authenticator:
        chosen = [m for m, on in ((AuthMode.HOSTNAME, auth_hostname), (AuthMode.LOGIN, auth_login),
                                  (AuthMode.PASSWORD, bool(auth_password))) if on]
        if len(chosen) > 1:
            raise ValueError("choose one authentication mode: auth_hostname, auth_login or auth_password")
        return cls(database, chosen[0] if chosen else AuthMode.NONE, auth_password)

    async def _slow_down(self, source: str) -> None:
        delay = self.throttle.delay(source)
        if delay:
            await asyncio.sleep(delay)

    def _record(self, source: str, ok: bool) -> bool:
        (self.throttle.succeeded if ok else self.throttle.failed)(source)
        return ok

    async def check_password(self, source: str, password: object) -> bool:
        await self._slow_down(source)
        expected = (self._password or "").encode()
        given = password.encode() if isinstance(password, str) else b""
        return self._record(source, hmac.compare_digest(expected, given))

    async def check_login(self, source: str, username: object, password: object) -> bool:
        await self._slow_down(source)
        if not isinstance(username, str) or not isinstance(password, str):
            return self._record(source, False)
        # scrypt costs tens of milliseconds of CPU: keep it off the event loop
        ok = await asyncio.get_running_loop().run_in_executor(
            None, self.database.verify, username, password)
        return self._record(source, ok)

    def is_trusted_hostname(self, *names: str) -> bool:
        trusted = set(self.database.hostnames())
        return any(name in trusted for name in names)
