"""What ssh_config says about a host, for the machines whose client reads no ssh_config itself.

``SshMachine`` hands its host to OpenSSH's ``ssh``, which reads the config.
``PuttyMachine`` (plink) and ``NativeSshMachine`` (asyncssh) resolve the host
here, with :mod:`tether.sshconfig` (which agrees with ``ssh -G``), so an
alias means the same thing on every machine. Arguments given to the machine
win over the config, as ``ssh -l``/``-p``/``-i`` do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

DEFAULT_CONFIG = "~/.ssh/config"


def ssh_config_settings(host: str, user: str | None, port: Any, ssh_config: Any) -> dict:
    """``sshconfig.resolve(host)`` of the given config file, or of ~/.ssh/config ({} when there is none)."""
    from .. import sshconfig

    path = os.path.expanduser(os.fspath(ssh_config) if ssh_config is not None else DEFAULT_CONFIG)
    if not os.path.exists(path):
        if ssh_config is not None:
            raise FileNotFoundError(f"ssh_config file not found: {path}")
        return {}
    return sshconfig.load(path).resolve(host, user=user, port=port)


def first_existing(paths: Any) -> str | None:
    for path in paths or ():
        if os.path.exists(os.path.expanduser(path)):
            return os.path.expanduser(path)
    return None


@dataclass(frozen=True)
class HostSettings:
    """Where and how to connect: the config's answer with the explicit arguments laid over it."""

    target: str  # the address to reach (HostName)
    user: str | None
    port: int | None
    keyfiles: list[str] = field(default_factory=list)  # the IdentityFiles that exist ([]: the client's own choice)
    known_hosts: str | None = None
    jumps: list[str] = field(default_factory=list)  # ProxyJump (or jump="a,b") hops, each [user@]host[:port]


def host_settings(
    host: str, user: str | None = None, port: Any = None, keyfile: Any = None, known_hosts: Any = None,
    jump: Any = None, ssh_config: Any = None,
) -> HostSettings:
    """Resolve ``host`` through ssh_config; explicit arguments win."""
    settings = ssh_config_settings(host, user, port, ssh_config)
    if keyfile is not None:
        keyfiles = [os.path.expanduser(os.fspath(keyfile))]
    else:
        keyfiles = [os.path.expanduser(p) for p in settings.get("identityfile") or () if os.path.exists(os.path.expanduser(p))]
    if known_hosts is None:
        known_hosts = first_existing(settings.get("userknownhostsfile"))
    proxy_jump = settings.get("proxyjump")
    if isinstance(jump, str):  # jump hosts named like ProxyJump: resolved through the config too
        jumps = jump.split(",")
    else:
        jumps = [] if jump is not None or not proxy_jump or proxy_jump == "none" else proxy_jump.split(",")
    return HostSettings(
        target=settings.get("hostname") or host,
        user=user if user is not None else settings.get("user"),
        port=int(port) if port is not None else (int(settings["port"]) if settings.get("port") else None),
        keyfiles=keyfiles,
        known_hosts=os.fspath(known_hosts) if known_hosts is not None else None,
        jumps=jumps,
    )


def split_hop(hop: str) -> tuple[str | None, str, int | None]:
    """``[ssh://][user@]host[:port]`` (a ProxyJump hop) as (user, host, port)."""
    text = hop.strip().removeprefix("ssh://")
    user, _, rest = text.rpartition("@")
    host, port = rest, None
    if rest.startswith("["):  # [v6 address]:port
        host, _, tail = rest[1:].partition("]")
        port = int(tail[1:]) if tail.startswith(":") else None
    elif rest.count(":") == 1:
        host, _, number = rest.partition(":")
        port = int(number)
    if not host:
        raise ValueError(f"ProxyJump hop {hop!r} names no host")
    return user or None, host, port
