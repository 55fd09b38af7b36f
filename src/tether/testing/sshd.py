"""A real OpenSSH ``sshd`` on a free loopback port, for tests and benchmarks.

::

    with start_openssh_server(tmp_path) as server:
        subprocess.run(server.ssh_argv("echo", "hi"))

The server runs as the current user with throwaway keys, in a temp
directory. Remote commands get a clean, fast environment: ``HOME`` is an
empty directory in that temp dir, so the login shell reads no rc files
(on this machine root's ~/.bashrc runs ``pyenv init``, 110-150 ms a command,
which would drown what tests and benchmarks measure).
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .server import SshServer, answers_ssh, free_port, make_keys, write_client_files

SSHD = "/usr/sbin/sshd"
_CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class SshdUnavailable(RuntimeError):
    """OpenSSH's server is not installed (Debian: apt-get install openssh-server)."""


def sshd_path() -> str | None:
    found = shutil.which("sshd") or (SSHD if os.access(SSHD, os.X_OK) else None)
    return found


def sshd_version() -> str:
    """``OpenSSH_9.2p1`` or similar (sshd prints it with an unknown option)."""
    path = sshd_path()
    if path is None:
        return "none"
    out = subprocess.run([path, "-V"], capture_output=True, text=True, check=False)
    text = (out.stderr or out.stdout).strip()
    return text.split(",")[0] if text else "unknown"


def _config(
    directory: Path, port: int, host_key: Path, authorized_keys: Path, home: Path, extra: Sequence[str], sftp: bool = True
) -> str:
    # sshd takes the first value it reads for a keyword: extra lines go first to override
    return "\n".join([
        *extra,
        "ListenAddress 127.0.0.1",
        f"Port {port}",
        f"HostKey {host_key}",
        f"PidFile {directory / 'sshd.pid'}",
        f"AuthorizedKeysFile {authorized_keys}",
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "MaxSessions 100",
        "MaxStartups 200:30:400",
        "AllowTcpForwarding yes",
        "AllowStreamLocalForwarding yes",
        "GatewayPorts no",
        "X11Forwarding no",
        "PrintMotd no",
        "PrintLastLog no",
        "UseDNS no",
        "LogLevel ERROR",
        *(["Subsystem sftp internal-sftp"] if sftp else []),
        "AcceptEnv LANG LC_* TETHER_*",
        # the clean environment: an empty HOME (no rc files) and a plain PATH
        f"SetEnv HOME={home} PATH={_CLEAN_PATH}",
        "",
    ])


@contextmanager
def start_openssh_server(
    directory: str | os.PathLike, *, timeout: float = 10, extra_config: Sequence[str] = (), sftp: bool = True
) -> Iterator[SshServer]:
    """Start sshd in ``directory`` (created if needed), yield its SshServer, stop it.

    ``extra_config`` lines (``"MaxSessions 10"``) override the defaults;
    ``sftp=False`` leaves out the SFTP subsystem, as some hardened servers do.
    """
    path = sshd_path()
    if path is None:
        raise SshdUnavailable("OpenSSH sshd is not installed (Debian: apt-get install openssh-server)")
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    home = root / "home"
    home.mkdir(exist_ok=True)
    keys = make_keys(root)
    authorized = root / "authorized_keys"
    authorized.write_text((root / "client_ed25519.pub").read_text())
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
    user = getpass.getuser()
    for _attempt in range(5):  # a free port can be taken between probe and bind
        port = free_port()
        config = root / "sshd_config"
        config.write_text(_config(root, port, keys.host_key, authorized, home, extra_config, sftp))
        log = root / "sshd.log"
        with open(log, "wb") as log_file:
            process = subprocess.Popen(
                [path, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                start_new_session=True,
            )
        if _wait_until_ready(process, port, timeout):
            break
        _stop(process)
        if "Address already in use" not in log.read_text(errors="replace"):
            raise RuntimeError(f"sshd did not start; its log says:\n{log.read_text(errors='replace')[-2000:]}")
    else:
        raise RuntimeError("sshd could not find a free port in 5 attempts")
    known_hosts, ssh_config = write_client_files(root, keys, "127.0.0.1", port, user)
    server = SshServer(
        kind="openssh", host="127.0.0.1", port=port, user=user, client_key=keys.client_key,
        client_key_ppk=keys.client_key_ppk, known_hosts=known_hosts, host_public_key=keys.host_public_key,
        host_key_fingerprint=keys.host_key_fingerprint, ssh_config=ssh_config, home=home,
        pid=process.pid,
    )
    try:
        yield server
    finally:
        _stop(process)


def kill_sshd(pid: int) -> None:
    """SIGKILL sshd ``pid`` and the sshd processes below it (one per connection), by PID.

    Repeated until no sshd is left below it: a connection forking just then
    must not survive the crash.
    """
    # the listener goes last: once it is dead its children belong to init and no longer show below it
    for _round in range(5):
        doomed = [child for child in _descendants(pid) if _is_sshd(child)]
        if not doomed:
            break
        for each in doomed:
            try:
                os.kill(each, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)


def _descendants(pid: int) -> list[int]:
    # from every process's parent in /proc/*/stat (/proc/PID/task/*/children may
    # miss a child forked meanwhile); a killed sshd's children keep their old
    # parent until it is reaped, so they are still found on the next round
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    found, pending = [], [pid]
    while pending:
        for child in parents.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def _is_sshd(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().startswith("sshd")
    except (FileNotFoundError, ProcessLookupError):
        return False


def _wait_until_ready(process: subprocess.Popen, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if answers_ssh("127.0.0.1", port):
            return True
        time.sleep(0.01)
    return False


def _stop(process: subprocess.Popen) -> None:
    """Stop the listening sshd (a session still open ends with its client)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
