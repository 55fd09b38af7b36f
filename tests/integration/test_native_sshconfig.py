"""NativeSshMachine resolves hosts through tether.sshconfig, so it agrees with ``ssh -G`` (and SshMachine)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tether import ConnectError, NativeSshMachine, SshMachine

pytestmark = [pytest.mark.sshd, pytest.mark.skipif(shutil.which("ssh") is None, reason="OpenSSH client not installed")]


def ssh_g(config, host: str) -> dict[str, str]:
    out = subprocess.run(["ssh", "-G", "-F", str(config), host], capture_output=True, text=True, check=True).stdout
    return dict(line.partition(" ")[::2] for line in out.splitlines())


def test_the_fixture_alias_resolves_as_ssh_G_says_and_connects(sshd_server):
    expected = ssh_g(sshd_server.ssh_config, "tether-test")
    with NativeSshMachine("tether-test", ssh_config=sshd_server.ssh_config) as rem:
        assert (rem.aio.target, str(rem.aio.port), rem.aio.user) == (expected["hostname"], expected["port"], expected["user"])
        assert rem["echo"]("through the alias") == "through the alias\n"
    with SshMachine("tether-test", ssh_config=sshd_server.ssh_config) as rem:  # the same host, by OpenSSH
        assert rem["echo"]("same") == "same\n"


def test_proxy_jump_hops_resolve_through_the_config_too(sshd_server, tmp_path):
    base = sshd_server.ssh_config.read_text()
    config = tmp_path / "config"
    # "hidden" is only reachable (in name) through the tether-test alias as a jump host
    config.write_text(
        base + f"Host hidden\n  HostName 127.0.0.1\n  Port {sshd_server.port}\n  ProxyJump tether-test\n"
        f"  IdentityFile {sshd_server.client_key}\n  UserKnownHostsFile {sshd_server.known_hosts}\n"
    )
    assert ssh_g(config, "hidden")["proxyjump"] == "tether-test"
    with NativeSshMachine("hidden", ssh_config=config) as rem:
        assert rem.aio.target == "127.0.0.1" and len(rem.aio._hop_conns) == 1
        assert rem["echo"]("two hops") == "two hops\n"
        jumped = rem.aio._hop_conns[0]
    assert jumped.is_closed()  # the hop closed with the machine


def test_explicit_arguments_win_over_the_config(sshd_server, tmp_path):
    config = tmp_path / "config"
    config.write_text(sshd_server.ssh_config.read_text().replace(f"Port {sshd_server.port}", "Port 1"))
    with pytest.raises(ConnectError):  # the config's port: nobody listens on 1
        NativeSshMachine("tether-test", ssh_config=config, connect_timeout=5)
    with NativeSshMachine("tether-test", ssh_config=config, port=sshd_server.port) as rem:
        assert rem["echo"]("explicit port") == "explicit port\n"


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        NativeSshMachine("tether-test", ssh_config=tmp_path / "nope")


def test_jump_named_by_alias_is_resolved_like_proxy_jump(sshd_server):
    s = sshd_server
    with NativeSshMachine(
        s.host, user=s.user, port=s.port, keyfile=s.client_key, known_hosts=s.known_hosts, jump="tether-test",
        ssh_config=s.ssh_config,
    ) as rem:
        assert len(rem.aio._hop_conns) == 1
        assert rem["echo"]("via alias") == "via alias\n"
