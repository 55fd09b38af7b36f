"""``tether put`` / ``tether get`` as a user runs them, against the real sshd fixture."""

import os
import shutil
import subprocess
import sys

import pytest

from tether.cli.transfer import parse_remote

pytestmark = pytest.mark.sshd


def tether(*args, check=True):
    env = {**os.environ, "COLUMNS": "120"}  # rich draws the bar at this width when not on a terminal
    done = subprocess.run(
        [sys.executable, "-m", "tether.cli", *args], capture_output=True, text=True, timeout=120, env=env
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_remote_places_parse():
    assert parse_remote("john@web1:/srv/x y") == ("john", "web1", "/srv/x y")
    assert parse_remote("web1:") == (None, "web1", ".")
    for bad in ("/local/path", "relative", "a/b:c"):
        with pytest.raises(ValueError, match="not a remote place"):
            parse_remote(bad)


@pytest.mark.parametrize("via", ["ssh", "native", "putty"])
def test_put_and_get_with_a_progress_bar(via, sshd_server, tmp_path):
    if via == "putty" and not shutil.which("plink"):
        pytest.skip("plink (putty-tools) is not installed")
    s = sshd_server
    connection = ["-p", str(s.port), "-i", str(s.client_key), "--known-hosts", str(s.known_hosts), "--via", via]
    data = os.urandom(5 << 20)
    (tmp_path / "a file.bin").write_bytes(data)
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "x.txt").write_text("x")
    remote_dir = tmp_path / "remote side"  # the server is this machine: a directory here is "remote"
    remote_dir.mkdir()
    where = f"{s.user}@{s.host}:{remote_dir}"
    sent = tether("put", *connection, str(tmp_path / "a file.bin"), str(tmp_path / "tree"), where)
    assert "5.2 MB" in sent.stderr  # the bar's byte count, drawn on stderr
    assert (remote_dir / "a file.bin").read_bytes() == data and (remote_dir / "tree" / "x.txt").read_text() == "x"
    back = tmp_path / "back.bin"
    got = tether("get", *connection, "-q", f"{where}/a file.bin", str(back))
    assert back.read_bytes() == data and got.stderr == ""


def test_clear_errors(sshd_server, tmp_path):
    s = sshd_server
    (tmp_path / "f").write_text("f")
    bad_place = tether("put", str(tmp_path / "f"), "no-colon-here", check=False)
    assert bad_place.returncode == 2 and "not a remote place" in bad_place.stderr
    missing = tether(
        "get", "-p", str(s.port), "-i", str(s.client_key), "--known-hosts", str(s.known_hosts),
        f"{s.user}@{s.host}:/no/such/file", str(tmp_path), check=False,
    )
    assert missing.returncode == 1 and "nothing to download" in missing.stderr and "/no/such/file" in missing.stderr


@pytest.mark.parametrize("via", ["native", "ssh"])
def test_cli_prints_no_dependency_warnings(via, sshd_server, tmp_path):
    """cryptography's deprecation noise about asyncssh's DSA classes never reaches a user's terminal."""
    s = sshd_server
    (tmp_path / "f").write_text("f")
    connection = ["-p", str(s.port), "-i", str(s.client_key), "--known-hosts", str(s.known_hosts), "--via", via]
    sent = tether("put", *connection, "-q", str(tmp_path / "f"), f"{s.user}@{s.host}:{tmp_path}/g")
    got = tether("get", *connection, "-q", f"{s.user}@{s.host}:{tmp_path}/g", str(tmp_path / "h"))
    helped = tether("--help")
    for done in (sent, got, helped):
        assert not [line for line in done.stderr.splitlines() if "Warning" in line], done.stderr
    assert (tmp_path / "h").read_text() == "f"
