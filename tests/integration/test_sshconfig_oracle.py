"""Differential tests: ``tether.sshconfig`` against OpenSSH itself.

Hypothesis writes configs from a small grammar (Host/Match blocks, first-wins
and accumulating options, tokens, quoting, separators, invalid values) and
``resolve(host)`` must agree with ``ssh -G -F file host`` on every supported
option, and must fail exactly when ssh refuses the config. What ``ssh -G``
prints unexpanded (IdentityFile, ProxyCommand...) is compared raw here and
checked expanded against ``ssh -v``, which logs the expanded values.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether import sshconfig
from tether.sshconfig import SshConfigError

SSH = shutil.which("ssh")
pytestmark = pytest.mark.skipif(SSH is None, reason="OpenSSH client (ssh) not installed")

# ssh -G prints these expanded: compare with resolve(expand=True)
EXPANDED = [
    "hostname", "user", "port", "controlpath", "userknownhostsfile", "remotecommand",
    "forwardagent", "compression", "loglevel", "stricthostkeychecking", "connecttimeout",
    "serveraliveinterval", "batchmode", "identitiesonly", "tcpkeepalive",
    "passwordauthentication", "sendenv", "setenv", "hostkeyalias",
]  # fmt: skip
# ssh -G prints these as written (ssh expands them only when it uses them)
RAW = ["identityfile", "certificatefile", "proxycommand", "localcommand"]
# printed space-joined on one line rather than one line per value
JOINED = {"userknownhostsfile"}

HOSTS = ["h1", "h2", "web1", "db", "H1", "real.h1.example"]
HOST_PATTERNS = [
    "*", "h1", "h?", "h*", "web*", "!h1", "!web1", "real.*", "db", "H1", "*1", "!*.example",
    '"h*"', "'web1'", "# comment",
]  # fmt: skip
MATCHES = [
    "host h*",
    "host !h1,h*",
    "host real.*",
    "Host=H1",
    "user alice",
    "user root,bob",
    "!user alice",
    "localuser root",
    "localuser nobody",
    "all",
    "!all",
    "originalhost h1",
    "originalhost H1",
    "final",
    "final host real*",
    "!final",
    "canonical",
    "host h1 user bob",
    "originalhost web* !final",
    "all # everything",
]
# (valid values, invalid values): invalid ones make ssh refuse the whole file
OPTIONS: dict[str, tuple[list[str], list[str]]] = {
    "Port": (["2222", "22", "ssh", "65535", "0022", "+22"], ["0", "70000", "-0"]),
    "User": (["alice", "bob", "root", '"a b"', "o\\'neil", "\"o'neil\""], ["o'neil"]),
    "HostName": (["%h.example.com", "Real.Host", "10.0.0.1", "010.1", "FE80::1", "0:0::1", "real.h1.example", "h2", "%h", "%%h"], ["%z"]),
    "IdentityFile": (
        ["~/.ssh/id_%h", "/keys/%r@%h:%p", "~/k1", "none", '"~/with space/%n"', "${HOME}/k"],
        ["a b"],
    ),
    "CertificateFile": (["~/c-%h", "/c/%r"], []),
    "ForwardAgent": (["yes", "no", "true", "false", "/tmp/agent-%h", "~/agent", "$SSH_AUTH_SOCK"], []),
    "Compression": (["yes", "no", "YES"], ["true"]),
    "ServerAliveInterval": (["30", "5m", "1h2m", "0"], ["x", "-1"]),
    "ConnectTimeout": (["10", "2M", "0", "1w", "+5m", "-0", "1m1"], ["5x", "-5"]),
    "LogLevel": (["quiet", "DEBUG", "debug3", "verbose", "Info", "error"], ["loud"]),
    "StrictHostKeyChecking": (["yes", "no", "ask", "accept-new", "off", "true"], ["maybe"]),
    "UserKnownHostsFile": (["~/.ssh/kh_%h", "/dev/null", "~/a ~/b_%p", "none", "%d/kh-%u"], []),
    "ControlPath": (
        ["~/.ssh/cm-%C", "/tmp/%r@%h:%p", "none", "/tmp/%L-%l-%n-%i-%d-%u-%%-%k", "${HOME}/cp-%h"],
        ["/tmp/%z", "${TETHER_SSHCONFIG_UNSET}"],
    ),
    "SendEnv": (["LANG", "LC_*", "-LANG", "A B", "-*"], ["A=B"]),
    "SetEnv": (["A=1", "B=2 C=3", "A=9"], ["NOVALUE"]),
    "RemoteCommand": (["echo %h %r", "none", "uptime"], []),
    "ProxyCommand": (["nc %h %p", "none", "ssh -W %h:%p bastion # note"], []),
    "LocalCommand": (["echo %n"], []),
    "BatchMode": (["yes", "no", "true", "false"], ["maybe"]),
    "IdentitiesOnly": (["yes", "no"], []),
    "TCPKeepAlive": (["yes", "False"], []),
    "PasswordAuthentication": (["no", "true"], []),
    "HostKeyAlias": (["MyAlias", "alias.%h"], []),
}
SEPARATORS = [" ", "=", " = ", "\t", "  "]
INDENTS = ["", "  ", "\t", "    "]


@st.composite
def option_lines(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(sorted(OPTIONS)))
    valid, invalid = OPTIONS[name]
    if invalid and draw(st.integers(0, 99)) == 50:  # not 0: hypothesis favours bounds
        value = draw(st.sampled_from(invalid))
    else:
        value = draw(st.sampled_from(valid))
    spelled = draw(st.sampled_from([name, name.lower(), name.upper()]))
    comment = draw(st.sampled_from(["", "", "", " # note", "\t#x", "  ", "\t"]))
    return draw(st.sampled_from(INDENTS)) + spelled + draw(st.sampled_from(SEPARATORS)) + value + comment


@st.composite
def blocks(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        patterns = draw(st.lists(st.sampled_from(HOST_PATTERNS), min_size=1, max_size=3))
        header = draw(st.sampled_from(["Host ", "Host=", "host\t"])) + " ".join(patterns)
    else:
        header = "Match " + draw(st.sampled_from(MATCHES))
    body = draw(st.lists(option_lines(), max_size=5))
    filler = draw(st.sampled_from(["", "\n", "# comment\n"]))
    return "\n".join([header, *body]) + "\n" + filler


@st.composite
def configs(draw: st.DrawFn) -> str:
    preamble = draw(st.lists(option_lines(), max_size=2))
    text = "".join(line + "\n" for line in preamble)
    text += "".join(draw(st.lists(blocks(), min_size=1, max_size=6)))
    if draw(st.integers(0, 4)) == 0:
        text = text.replace("\n", "\r\n")  # ssh reads \r as blank space
    if draw(st.booleans()):
        text = text.rstrip("\n")
    return text


def ssh_g(path: str, host: str, user: str | None = None, port: str | None = None) -> tuple[int, dict, str]:
    return ssh_g_many(path, [host], user, port)[host]


def ssh_g_many(path: str, hosts: list[str], user: str | None = None, port: str | None = None) -> dict:
    """``ssh -G`` for each host, the processes run side by side: {host: (rc, printed, stderr)}."""
    argv = [SSH or "ssh", "-G", "-F", path]
    argv += ["-l", user] if user else []
    argv += ["-p", port] if port else []
    running = {
        host: subprocess.Popen([*argv, "--", host], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for host in hosts
    }
    return {host: _parse_ssh_g(process, *process.communicate(timeout=20)) for host, process in running.items()}


def _parse_ssh_g(process: subprocess.Popen, out: bytes, err: bytes) -> tuple[int, dict, str]:
    # bytes, then split on \n only: values may hold \r or \f
    stdout, stderr = (data.decode("utf-8", "surrogateescape") for data in (out, err))
    printed: dict[str, list[str]] = {}
    for line in stdout.split("\n")[:-1]:
        key, _, value = line.partition(" ")
        printed.setdefault(key, []).append(value)
    return process.returncode, printed, stderr


@functools.lru_cache(maxsize=1)
def ssh_defaults() -> dict:
    """What ssh -G prints for an empty config: what an unset option must look like."""
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
        rc, printed, err = ssh_g(f.name, "h1")
    assert rc == 0, err
    return printed


def as_printed(key: str, value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, list):
        return [" ".join(value)] if key in JOINED else value
    return [str(value)]


def compare(path: str, host: str, user: str | None = None, port: str | None = None, oracle: tuple | None = None) -> bool:
    """Assert agreement for one host (``oracle``: its ssh -G answer, if already asked); True when the config was valid."""
    defaults = ssh_defaults()
    rc, printed, err = oracle or ssh_g(path, host, user, port)
    cfg = sshconfig.load(path)
    try:
        ours = cfg.resolve(host, user=user, port=port)
        raw = cfg.resolve(host, user=user, port=port, expand=False)
    except SshConfigError as e:
        assert rc != 0, f"we refused but ssh accepted: {e}"
        return False
    assert rc == 0, f"ssh refused but we accepted: {err.strip()}"
    for key, view in [*((k, ours) for k in EXPANDED), *((k, raw) for k in RAW)]:
        expected = printed.get(key)
        got = as_printed(key, view.get(key))
        if key == "forwardagent" and got == ["no"] and expected and expected[0] not in ("yes", "no"):
            continue  # "ForwardAgent no" then a path: ssh -G shows the path, ssh forwards nothing
        if got is None:
            assert expected == defaults.get(key), f"{key}: ssh has {expected}, we have it unset"
        else:
            assert got == expected, f"{key}: ours {got} != ssh {expected}"
    return True


@settings(max_examples=520, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=configs(),
    hosts=st.lists(st.sampled_from(HOSTS), min_size=1, max_size=3, unique=True),
    user=st.sampled_from([None, None, None, "bob", "alice"]),
    port=st.sampled_from([None, None, None, "2200"]),
)
def test_resolve_agrees_with_ssh_G(text, hosts, user, port):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "config")
        Path(path).write_text(text)
        assert sshconfig.dumps(sshconfig.load(path)) == text
        answers = ssh_g_many(path, hosts, user, port)
        for host in hosts:
            compare(path, host, user, port, answers[host])


def test_include_glob_and_match_state_agree(tmp_path):
    """Includes: sorted glob, the includer's Host state restored after the file, nested Match."""
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    (conf_d / "10-a.conf").write_text("User from-a\nHost h2\n  Port 2002\nMatch host h1\n  Port 1001\n")
    (conf_d / "20-b.conf").write_text("Host *\n  User from-b\n  IdentityFile ~/b\n")
    (conf_d / "skip.txt").write_text("Port 9\n")
    main = tmp_path / "config"
    main.write_text(
        f"Host h1\n  Include {conf_d}/*.conf\n  Compression yes\n"
        f"Host db\n  Include {conf_d}/2*.conf {tmp_path}/missing-*.conf\n"
        "Host *\n  User last\n  IdentityFile ~/last\n"
    )
    for host in ["h1", "h2", "db", "web1"]:
        assert compare(str(main), host)


def test_match_exec_agrees_when_allowed(tmp_path):
    path = tmp_path / "config"
    path.write_text('Match exec "test %h = h1"\n  User exec-yes\nMatch !exec "exit 0"\n  Port 7\n')
    for host in ["h1", "h2"]:
        rc, printed, err = ssh_g(str(path), host)
        ours = sshconfig.load(path).resolve(host, allow_exec=True)
        assert [ours["user"], ours["port"]] == [printed["user"][0], printed["port"][0]]
    with pytest.raises(SshConfigError, match="allow_exec"):
        sshconfig.load(path).resolve("h1")


def ssh_v_expansions(path: Path, host: str) -> tuple[list[str], list[str], list[str]]:
    """What ssh really uses: it logs identity/certificate files and the proxy command.

    ProxyCommand=false makes ssh stop right after loading the keys (no network).
    """
    done = subprocess.run(
        [SSH or "ssh", "-v", "-F", str(path), "-o", "BatchMode=yes", "--", host],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    ids, certs, proxy = [], [], []
    for line in done.stderr.splitlines():
        if line.startswith("debug1: identity file "):
            ids.append(line.split(" ")[3])
        elif line.startswith("debug1: certificate file "):
            certs.append(line.split(" ")[3])
        elif line.startswith("debug1: Executing proxy command: exec "):
            proxy.append(line.split("exec ", 1)[1])
    return ids, certs, proxy


@pytest.mark.parametrize("host", ["h1", "web1"])
def test_use_time_expansion_agrees_with_ssh_v(tmp_path, host):
    path = tmp_path / "config"
    path.write_text(
        "Host h*\n  HostName Real.%h\n  User bob\n  Port 2200\n"
        "Host *\n"
        "  IdentityFile ~/k/%h-%r-%p-%u-%n-%C-%d-%l-%L-%i-%k\n"
        "  IdentityFile /x/${HOME}/%%\n  IdentityFile none\n  IdentityFile ~\n"
        "  CertificateFile ~/c/%h\n"
        "  ProxyCommand false %h %p %r %n %% %k\n"
    )
    ids, certs, proxy = ssh_v_expansions(path, host)
    ours = sshconfig.load(path).resolve(host)
    assert ours["identityfile"] == ids
    assert ours["certificatefile"] == certs
    assert [ours["proxycommand"]] == proxy


SOUP = [
    "Host", "host", "Match", "User", "Port", "HostName", "IdentityFile", "SendEnv", "ProxyCommand",
    " ", " ", "\t", "=", "=", '"', "'", "\\", "#", "h1", "h*", "!h1", "bob", "22", "2222", "all",
    "final", "x y", "%h", "\r", "\f", "user", "a,b", "!", "*", "\0", "h1,h2",
]  # fmt: skip
SOUP_KEYS = ["user", "port", "hostname", "identityfile", "sendenv", "proxycommand"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(st.lists(st.sampled_from(SOUP), min_size=1, max_size=7).map("".join), min_size=1, max_size=6),
    host=st.sampled_from(["h1", "h2", "a"]),
)
def test_lexing_agrees_on_line_soup(lines, host):
    """Quotes, '=', comments, NUL, \\r and \\f in odd places: same values, same refusals."""
    text = "\n".join(lines) + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "config")
        Path(path).write_text(text)
        rc, printed, err = ssh_g(path, host)
        try:
            ours = sshconfig.load(path).resolve(host, expand=False)
        except SshConfigError as e:
            assert rc != 0, f"we refused but ssh accepted: {e}"
            return
    if rc != 0:
        # the one deliberate difference: unknown keywords are kept, not refused
        assert "Bad configuration option" in err, f"ssh refused but we accepted: {err.strip()}"
        return
    for key in SOUP_KEYS:
        got = as_printed(key, ours.get(key))
        if got is not None or key != "identityfile":
            assert got == printed.get(key), f"{key}: ours {got} != ssh {printed.get(key)}"
