"""How the machines without their own ssh_config reader resolve a host (tether.machines.host_config)."""

from __future__ import annotations

import pytest

from tether.machines.host_config import host_settings, split_hop


@pytest.mark.parametrize(
    ("hop", "expected"),
    [
        ("bastion", (None, "bastion", None)),
        ("me@bastion:2222", ("me", "bastion", 2222)),
        ("ssh://me@bastion:22", ("me", "bastion", 22)),
        ("a@b@bastion", ("a@b", "bastion", None)),
        ("[fe80::1]:2200", (None, "fe80::1", 2200)),
        ("fe80::1", (None, "fe80::1", None)),
    ],
)
def test_proxy_jump_hops_split_like_ssh(hop, expected):
    assert split_hop(hop) == expected


def test_a_hop_without_a_host_is_refused():
    with pytest.raises(ValueError, match="names no host"):
        split_hop("me@")


def test_config_then_explicit_arguments(tmp_path):
    key = tmp_path / "key"
    key.write_text("k")
    config = tmp_path / "config"
    config.write_text(
        f"Host alias\n  HostName real.example\n  Port 2200\n  User deploy\n  IdentityFile {tmp_path}/missing\n"
        f"  IdentityFile {key}\n  ProxyJump j1,me@j2:23\n"
    )
    found = host_settings("alias", ssh_config=config)
    assert (found.target, found.port, found.user) == ("real.example", 2200, "deploy")
    assert found.keyfiles == [str(key)]  # only the identity files that exist
    assert found.jumps == ["j1", "me@j2:23"]
    given = host_settings("alias", user="root", port=22, keyfile="~/k", jump="other", ssh_config=config)
    assert (given.user, given.port, given.jumps) == ("root", 22, ["other"])
    assert given.keyfiles[0].endswith("/k") and not given.keyfiles[0].startswith("~")
    assert host_settings("unlisted", ssh_config=config).target == "unlisted"
