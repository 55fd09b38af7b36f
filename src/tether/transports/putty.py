"""PuTTY's ``plink``: options, host keys from known_hosts, keys converted to .ppk.

``plink -share`` multiplexes like OpenSSH's ControlMaster: the machine's
long-lived control shell is the upstream connection and every command's
plink attaches to it as a downstream (milliseconds instead of a handshake).

plink keeps its own host-key cache and, in batch mode, refuses a host it
does not know. To verify host keys by default without touching that cache,
tether reads the host's keys from an OpenSSH known_hosts file (hashed
entries included) and passes their fingerprints with ``-hostkey``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import subprocess
from collections.abc import Iterable

from ..exceptions import AuthenticationError, ConnectError, HostKeyError


def known_host_names(host: str, port: int | None) -> list[str]:
    """How known_hosts names ``host``: ``host`` on port 22, ``[host]:port`` otherwise."""
    return [host] if not port or int(port) == 22 else [f"[{host}]:{int(port)}"]


def fingerprints_from_known_hosts(path: str, host: str, port: int | None) -> list[str]:
    """SHA256 fingerprints of the keys ``path`` lists for ``host`` (``[]`` when none)."""
    names = known_host_names(host, port)
    found = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 3 or fields[0].startswith("#") or fields[0].startswith("@"):
                continue
            if any(_matches(pattern, names) for pattern in fields[0].split(",")):
                found.append(fingerprint(fields[2]))
    return found


def _matches(pattern: str, names: Iterable[str]) -> bool:
    if pattern.startswith("|1|"):
        try:
            salt_b64, hash_b64 = pattern[3:].split("|")
            salt, expected = base64.b64decode(salt_b64), base64.b64decode(hash_b64)
        except ValueError:
            return False
        return any(hmac.compare_digest(hmac.new(salt, n.encode(), hashlib.sha1).digest(), expected) for n in names)
    return pattern in names


def fingerprint(key_base64: str) -> str:
    """``SHA256:...`` as ``ssh-keygen -l`` prints it (and ``plink -hostkey`` takes it)."""
    digest = hashlib.sha256(base64.b64decode(key_base64)).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def as_ppk(keyfile: str, directory: str, puttygen: str = "puttygen") -> str:
    """``keyfile`` itself when it is a .ppk, else a converted copy in ``directory``."""
    with open(keyfile, "rb") as f:
        if f.read(20).startswith(b"PuTTY-User-Key-File"):
            return keyfile
    target = os.path.join(directory, "key.ppk")
    result = subprocess.run(
        [puttygen, keyfile, "-O", "private", "-o", target], capture_output=True, stdin=subprocess.DEVNULL, check=False
    )
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip()
        raise AuthenticationError(f"cannot convert {keyfile} for plink with puttygen: {detail}")
    return target


def connect_error(host: str, stderr: str) -> ConnectError:
    """Turn plink's complaint into the right exception."""
    detail = stderr.strip().splitlines()[-1] if stderr.strip() else "plink exited"
    lowered = stderr.lower()
    if "host key" in lowered and ("not" in lowered or "does not match" in lowered or "mismatch" in lowered):
        return HostKeyError(
            f"host key of {host} could not be verified ({detail}); pass known_hosts= or hostkey=", host
        )
    if "access denied" in lowered or "authentication" in lowered or "no supported authentication" in lowered:
        return AuthenticationError(f"authentication to {host} failed: {detail}", host)
    return ConnectError(f"cannot connect to {host}: {detail}", host)
