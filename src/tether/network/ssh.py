"""Start a Manager (and services) on another machine over SSH, through tether's machines.

::

    from tether.network import ssh
    ssh.start_manager("pi@raspberrypi", "/home/pi/.local/bin/mypackage", port=1876)
    # ... the console script calls run_services(MyService(), **ssh.parse_console_script_kwargs())

    rem = ssh.connect("pi@raspberrypi")            # a tether NativeSshMachine
    ssh.exec_command(rem, "ps aux | grep mypackage")  # stdout lines; raises on failure
    rem.close()

How ``start_manager`` works: over one verified SSH connection it starts
``console_script_path`` in the background (``nohup``), handing it the keyword
arguments as JSON on stdin into a private temp file (so passwords are never on
a command line), then watches the script's log until the Manager says it is
running, the script dies (its output is raised), or ``timeout`` passes (the
script is killed). The Manager's certificate is then read over the same SSH
connection and saved locally (``~/.tether/network/certs/<host>.crt``) so a
Client verifies the Manager without trust-on-first-use.

SSH options go in keyword arguments starting with ``ssh_`` (``ssh_username``,
``ssh_password``, ``ssh_port``, ``ssh_keyfile``, ``ssh_known_hosts``,
``ssh_host_key_policy``, ``ssh_config``); everything else goes to the script.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..exceptions import ProcessExecutionError, ProcessTimedOut
from ..machines.native import NativeSshMachine
from . import certs
from .runner import READY_PREFIX

#: the flag the console script receives; parse_console_script_kwargs() looks for it
KWARGS_FLAG = "--tether-network-kwargs"

# $0: console script, $1...: sudo prefix is outside. Saves stdin to a private file,
# starts the script detached with its output in "$f.log", prints "$f $pid".
_LAUNCH = (
    'umask 077; f=$(mktemp "${TMPDIR:-/tmp}/tether-network.XXXXXXXX") || exit 1; cat > "$f"; '
    'nohup "$0" ' + KWARGS_FLAG + ' "$f" > "$f.log" 2>&1 < /dev/null & echo "$f $!"'
)
# $1: log file, $2: pid. Prints the log, then "ALIVE" if the process still runs.
_WATCH = 'cat "$1" 2>/dev/null; if kill -0 "$2" 2>/dev/null; then echo; echo ALIVE; fi'

_SSH_OPTIONS = {"ssh_port": "port", "ssh_keyfile": "keyfile", "ssh_known_hosts": "known_hosts",
                "ssh_host_key_policy": "host_key_policy", "ssh_config": "ssh_config"}


def connect(host: str, username: str | None = None, password: str | None = None, timeout: float = 10,
            **options: Any) -> NativeSshMachine:
    """A tether machine on ``host`` (``"user@host"`` works): keys, agent or password; host keys verified.

    ``options`` go to :class:`tether.NativeSshMachine` (``port``, ``keyfile``,
    ``known_hosts``, ``host_key_policy``...). An unknown host key is an error
    unless you choose a policy. Close it with ``.close()``.
    """
    if "@" in host and username is None:
        username, host = host.rsplit("@", 1)
    return NativeSshMachine(host, user=username, password=password, connect_timeout=timeout, **options)


def exec_command(machine: Any, command: str, timeout: float | None = 10) -> list[str]:
    """Run a shell ``command`` on ``machine``; its stdout as lines. A non-zero exit raises
    :class:`~tether.ProcessExecutionError` (with stderr); ``timeout`` kills it (ProcessTimedOut)."""
    return str(machine["sh"]["-c", command](timeout=timeout)).splitlines()


def start_manager(host: str, console_script_path: str, ssh_username: str | None = None,
                  ssh_password: str | None = None, timeout: float = 10, as_sudo: bool = False,
                  **kwargs: Any) -> None:
    """Start ``console_script_path`` on ``host`` and return once its Manager is running.

    Raises promptly with the script's output when it exits instead (an address
    already in use, a bad argument), and :class:`~tether.ProcessTimedOut`
    (after killing it) when the Manager is not up within ``timeout`` seconds.
    ``as_sudo`` runs the script with ``sudo -n`` (no password prompt: sudoers
    must allow it), and so every later look at it (its log, its pid, its
    certificate), which then belong to root.
    """
    ssh_options = {_SSH_OPTIONS[k]: kwargs.pop(k) for k in list(kwargs) if k in _SSH_OPTIONS}
    machine = connect(host, ssh_username, ssh_password, timeout=timeout, **ssh_options)
    try:
        def privileged(command: Any) -> Any:
            return machine["sudo"]["-n", command] if as_sudo else command

        proc = privileged(machine["sh"]["-c", _LAUNCH, console_script_path]).popen()
        out, err = proc.communicate(json.dumps(kwargs).encode(), timeout=timeout)
        parts = out.decode().split()
        if proc.returncode != 0 or len(parts) != 2:
            raise ProcessExecutionError([console_script_path], proc.returncode, out, err, host,
                                        "could not start the Manager's console script")
        kwargs_file, pid = parts
        log = _wait_until_running(machine, privileged, console_script_path, kwargs_file + ".log", pid, timeout)
        _save_certificate(machine, privileged, host, log)
    finally:
        machine.close()


def _wait_until_running(
    machine: Any, privileged: Callable[[Any], Any], script: str, log_file: str, pid: str, timeout: float
) -> str:
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        watch = privileged(machine["sh"]["-c", _WATCH, "watch", log_file, pid])
        rc, log, _ = watch.run(retcode=None, timeout=timeout)
        alive = log.rstrip().endswith("ALIVE")
        if READY_PREFIX in log and alive:
            return log
        if not alive:
            raise ProcessExecutionError([script], None, log, "", machine.host,
                                        "the Manager's console script exited before the Manager was running")
        if time.monotonic() > deadline:
            privileged(machine["kill"]["-TERM", pid]).run(retcode=None)
            raise ProcessTimedOut([script], timeout, log, "", machine.host)
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def _save_certificate(machine: Any, privileged: Callable[[Any], Any], host: str, log: str) -> Path | None:
    """Fetch the Manager's certificate over the (verified) SSH connection; keep it for ``host``."""
    for line in log.splitlines():
        if READY_PREFIX in line and " certificate " in line:
            remote_path = line.split(" certificate ", 1)[1].strip()
            pem = privileged(machine["cat"][remote_path])()
            local = certs.default_cert_path(host.rsplit("@", 1)[-1])
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_text(pem)
            return local
    return None


def parse_console_script_kwargs(argv: list[str] | None = None) -> dict[str, Any]:
    """The keyword arguments ``start_manager`` sent, in the console script on the remote.

    They arrive in a private temp file named on the command line, which is
    read and deleted at once. Without the flag, ``{}``.
    """
    argv = sys.argv[1:] if argv is None else argv
    if KWARGS_FLAG not in argv:
        return {}
    index = argv.index(KWARGS_FLAG)
    try:
        path = argv[index + 1]
    except IndexError:
        raise ValueError(f"{KWARGS_FLAG} needs a file name") from None
    try:
        with open(path) as fh:
            kwargs = json.load(fh)
    finally:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    if not isinstance(kwargs, dict):
        raise ValueError(f"{path} does not hold a JSON object of keyword arguments")
    return kwargs
