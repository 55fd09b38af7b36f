"""The system ``ssh`` client, multiplexed over one ControlMaster connection.

One master process holds the authenticated connection; every command is a
short-lived ``ssh -S <socket>`` client that opens a channel on it (a few
milliseconds instead of a full handshake). The control socket lives in a
private directory (mode 0700) with a short path, since unix socket paths
are limited to about 100 bytes. ``~/.ssh/config`` applies as for any
OpenSSH client.

A password, when given, reaches ``ssh`` through ``SSH_ASKPASS``: a helper
script reads it from a file in the private directory that is deleted as
soon as the master has authenticated. It is never on a command line or in
the environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence

from ..exceptions import AuthenticationError, ConnectError, HostKeyError

HOST_KEY_POLICIES = {
    "strict": ["-o", "StrictHostKeyChecking=yes"],
    "accept-new": ["-o", "StrictHostKeyChecking=accept-new"],
    # explicitly insecure: nothing verified, nothing recorded
    "ignore": ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"],
}


def parse_public_key(text: str) -> tuple[str, str]:
    """``("ssh-ed25519", "AAAA...")`` from an OpenSSH public key line; ValueError if it is none."""
    import base64
    import binascii

    fields = str(text).split()
    if len(fields) < 2 or not fields[0].replace("-", "").replace("@", "").replace(".", "").isalnum():
        raise ValueError(f"host_key must be an OpenSSH public key ('ssh-ed25519 AAAA...'); got {text!r:.60}")
    try:
        base64.b64decode(fields[1], validate=True)
    except binascii.Error:
        raise ValueError(f"host_key's key data is not base64: {fields[1]!r:.40}") from None
    return fields[0], fields[1]


def connection_options(
    *,
    user: str | None,
    port: int | None,
    keyfile: str | None,
    known_hosts: str | None,
    host_key_policy: str,
    connect_timeout: float,
    batch: bool,
) -> list[str]:
    """The ssh options every client of this machine shares."""
    if host_key_policy not in HOST_KEY_POLICIES:
        raise ValueError(f"host_key_policy must be one of {', '.join(HOST_KEY_POLICIES)}; got {host_key_policy!r}")
    opts = ["-o", f"ConnectTimeout={max(1, round(connect_timeout))}", "-o", "ServerAliveInterval=15"]
    if batch:
        opts += ["-o", "BatchMode=yes"]
    if user:
        opts += ["-l", user]
    if port:
        opts += ["-p", str(int(port))]
    if keyfile:
        opts += ["-i", os.path.expanduser(os.fspath(keyfile)), "-o", "IdentitiesOnly=yes"]
    if known_hosts:
        opts += ["-o", f"UserKnownHostsFile={os.fspath(known_hosts)}"]
    return opts + HOST_KEY_POLICIES[host_key_policy]


class ControlMaster:
    """The master connection: started by :meth:`start`, ended by :meth:`close`."""

    def __init__(self, ssh: str, host: str, options: Sequence[str], password: str | None = None) -> None:
        self.ssh = ssh
        self.host = host
        self.options = list(options)
        self._password = password
        self.directory = tempfile.mkdtemp(prefix="tether-")  # 0700
        self.socket = os.path.join(self.directory, "m")
        self._process: subprocess.Popen | None = None

    def pin_host_key(self, host_key: str) -> list[str]:
        """Options that accept exactly ``host_key`` for this host, whatever known_hosts says."""
        key_type, key_data = parse_public_key(host_key)
        path = os.path.join(self.directory, "pinned_known_hosts")
        with open(path, "w", encoding="ascii") as f:
            f.write(f"tether-pinned {key_type} {key_data}\n")
        return ["-o", "HostKeyAlias=tether-pinned", "-o", f"UserKnownHostsFile={path}", "-o", "StrictHostKeyChecking=yes"]

    def client_argv(self, line: str) -> list[str]:
        """argv of an ssh client that runs the shell ``line`` over the master connection."""
        # If the master refuses or is gone, ssh would quietly open a connection
        # of its own: ProxyCommand=false makes that fail at once instead, and
        # BatchMode keeps it from prompting.
        base = [
            self.ssh, "-S", self.socket, "-o", "ControlMaster=no", "-o", "ProxyCommand=false",
            "-o", "BatchMode=yes", "-T", "-x",
        ]
        return [*base, "--", self.host, line]

    def spawn(self) -> subprocess.Popen:
        """Start the master; its own session is a remote ``sh`` on our pipes.

        That shell is the machine's control shell. Because the master's
        session reads our pipe, the master ends when this process does
        (EOF), even if it is killed before calling close().
        """
        env = self._askpass_env() if self._password is not None else None
        argv = [self.ssh, "-M", "-S", self.socket, "-o", "ControlPersist=no", "-T", "-x", *self.options, "--", self.host, "sh"]
        self._process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, start_new_session=True,  # no ^C from our terminal; we end it ourselves
        )
        return self._process

    def connected(self, timeout: float = 5) -> None:
        """Wait for the control socket (it appears once the master has authenticated)."""
        self._forget_password()
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.socket):
            if self._process is None or self._process.poll() is not None or time.monotonic() > deadline:
                raise ConnectError(f"ssh to {self.host} did not open its control socket", self.host)
            time.sleep(0.002)

    def close(self) -> None:
        """End the master (and with it every channel) and remove the private directory."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            subprocess.run(
                [self.ssh, "-S", self.socket, "-O", "exit", "--", self.host],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10, check=False,
            )
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._forget_password()
        shutil.rmtree(self.directory, ignore_errors=True)

    # -- password through SSH_ASKPASS ------------------------------------------
    def _askpass_env(self) -> dict[str, str]:
        secret = os.path.join(self.directory, "secret")
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self._password or "")
        helper = os.path.join(self.directory, "askpass")
        fd = os.open(helper, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700)
        with os.fdopen(fd, "w") as f:
            f.write(f"#!/bin/sh\nexec cat '{secret}'\n")  # the directory name is ours: no quoting issues
        env = dict(os.environ)
        env.update(SSH_ASKPASS=helper, SSH_ASKPASS_REQUIRE="force", DISPLAY=env.get("DISPLAY", ":0"))
        return env

    def _forget_password(self) -> None:
        self._password = None
        for name in ("secret", "askpass"):
            try:
                os.unlink(os.path.join(self.directory, name))
            except FileNotFoundError:
                pass


def connect_error(host: str, stderr: str) -> ConnectError:
    """Turn what ssh said when it gave up into the right exception."""
    detail = stderr.splitlines()[-1] if stderr else "ssh exited"
    if "Host key verification failed" in stderr or "REMOTE HOST IDENTIFICATION HAS CHANGED" in stderr:
        return HostKeyError(
            f"host key of {host} could not be verified ({detail}); add the right key to known_hosts "
            "(ssh-keyscan shows it) or choose host_key_policy='accept-new'",
            host,
        )
    if "Permission denied" in stderr or "Too many authentication failures" in stderr:
        return AuthenticationError(f"authentication to {host} failed: {detail}", host)
    return ConnectError(f"cannot connect to {host}: {detail}", host)
