"""What a test SSH server hands to tests: where it listens and the keys to reach it."""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SshServer:
    """A running loopback SSH server with throwaway keys.

    ``ssh_config`` holds a ``Host tether-test`` block, so
    ``ssh -F server.ssh_config tether-test CMD`` reaches it; ``known_hosts``
    lists its host key, so host keys are verified as in real use.
    """

    kind: str  # "openssh" or "embedded"
    host: str
    port: int
    user: str
    client_key: Path
    client_key_ppk: Path | None
    known_hosts: Path
    host_public_key: str
    host_key_fingerprint: str
    ssh_config: Path
    home: Path
    pid: int | None = None  # the listening sshd's, for servers in a process of their own

    def kill(self) -> None:
        """Crash the server: SIGKILL the listening sshd and every sshd serving a connection.

        The commands those connections started are left running, as after a
        real crash: they see their input end and must clean up by themselves.
        Only for a private server (``private_sshd_server``): the others are shared.
        """
        if self.pid is None:
            raise RuntimeError(f"the {self.kind} server runs in this process; only an OpenSSH server can be killed")
        from .sshd import kill_sshd

        kill_sshd(self.pid)

    def ssh_argv(self, *command: str) -> list[str]:
        """argv of the system ``ssh`` client running ``command`` on this server."""
        return ["ssh", "-F", str(self.ssh_config), "tether-test", *command]

    def plink_argv(self, *command: str) -> list[str]:
        """argv of PuTTY's ``plink`` running ``command`` on this server (needs the .ppk key)."""
        if self.client_key_ppk is None:
            raise RuntimeError("no .ppk key: puttygen (putty-tools) is not installed")
        return [
            "plink", "-batch", "-P", str(self.port), "-i", str(self.client_key_ppk),
            "-hostkey", self.host_key_fingerprint, f"{self.user}@{self.host}", *command,
        ]


@dataclass(frozen=True)
class Keys:
    client_key: Path
    client_key_ppk: Path | None
    host_key: Path
    host_public_key: str
    host_key_fingerprint: str


def make_keys(directory: Path) -> Keys:
    """A host key and a client key (ed25519, no passphrase), and the client key as .ppk when possible."""
    host_key, client_key = directory / "host_ed25519", directory / "client_ed25519"
    for key in (host_key, client_key):
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tether-test", "-f", str(key)])
    ppk: Path | None = directory / "client_ed25519.ppk"
    try:
        _run(["puttygen", str(client_key), "-O", "private", "-o", str(ppk)])
    except FileNotFoundError:
        ppk = None
    public = (directory / "host_ed25519.pub").read_text().split()
    fingerprint = _run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(host_key) + ".pub"]).split()[1]
    return Keys(client_key, ppk, host_key, f"{public[0]} {public[1]}", fingerprint)


def write_client_files(directory: Path, keys: Keys, host: str, port: int, user: str) -> tuple[Path, Path]:
    """known_hosts and an ssh_config with the ``tether-test`` alias; returns both paths."""
    known_hosts = directory / "known_hosts"
    known_hosts.write_text(f"[{host}]:{port} {keys.host_public_key}\n")
    config = directory / "ssh_config"
    config.write_text(
        "Host tether-test\n"
        f"  HostName {host}\n  Port {port}\n  User {user}\n"
        f"  IdentityFile {keys.client_key}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {known_hosts}\n  StrictHostKeyChecking yes\n"
        "  BatchMode yes\n  LogLevel ERROR\n"
    )
    return known_hosts, config


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the caller retries if it loses a race)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def answers_ssh(host: str, port: int, timeout: float = 0.5) -> bool:
    """True once something at host:port sends an SSH banner."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            return s.recv(8).startswith(b"SSH-2.0")
    except OSError:
        return False


def _run(argv: list[str]) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL).stdout
