"""sshd killed in the middle of a 100 MB upload: the destination holds the old content or nothing.

The server is this test's own (``private_sshd_server``) and runs on this
machine, so after the crash the test looks at the destination directly.
"""

import gc
import os
import shutil
import time

import pytest

from tether import NativeSshMachine, PuttyMachine, SshMachine

pytestmark = pytest.mark.sshd

MACHINES = {"ssh": SshMachine, "native": NativeSshMachine, "putty": PuttyMachine}
SIZE = 100 << 20


def kill_a_third_of_the_way(server):
    """A progress callback that kills ``server`` a third of the way through, and where it did."""
    killed_at = []

    def progress(done, total):
        assert total == SIZE
        if done >= SIZE // 3 and not killed_at:
            killed_at.append(done)
            server.kill()

    return progress, killed_at


def transfer_cut_by_a_killed_server(kind, server, transfer):
    """Run ``transfer(machine, progress)`` while ``server`` is killed under it: it must raise OSError.

    Returns where the kill happened (empty: the transfer ended before it could be killed).
    """
    rem = MACHINES[kind](
        server.host, user=server.user, port=server.port, keyfile=server.client_key, known_hosts=server.known_hosts
    )
    progress, killed_at = kill_a_third_of_the_way(server)
    try:
        with pytest.raises(OSError):
            transfer(rem, progress)
    finally:
        rem.close()
        # the failed transfer's streams sit in the traceback's frames: finalize them now, not
        # during some later ast.parse (CPython 3.11 then fails with "AST constructor recursion
        # depth mismatch" when a finalizer runs Python code mid-parse)
        gc.collect()
    return killed_at


@pytest.mark.parametrize("before", ["old content", None], ids=["replacing", "new"])
@pytest.mark.parametrize("kind", list(MACHINES))
def test_killed_sshd_leaves_no_partial_file(kind, before, private_sshd_server, tmp_path):
    if kind == "putty" and not shutil.which("plink"):
        pytest.skip("plink (putty-tools) is not installed")
    s = private_sshd_server
    source = tmp_path / "source.bin"
    with open(source, "wb") as f:
        f.truncate(SIZE)  # sparse: quick to make, as slow to send as any other bytes
    dest = tmp_path / "dest"
    dest.mkdir()
    target = dest / "big.bin"
    if before is not None:
        target.write_text(before)
    killed_at = transfer_cut_by_a_killed_server(
        kind, s, lambda rem, progress: rem.upload(source, target, progress=progress)
    )
    assert killed_at, "the upload ended before the server could be killed"
    # the orphaned remote shell sees its input end without the commit frame and removes its temp file
    deadline = time.monotonic() + 10
    while len(os.listdir(dest)) > (before is not None) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.listdir(dest) == (["big.bin"] if before is not None else [])
    if before is not None:
        assert target.read_text() == before


@pytest.mark.parametrize("kind", list(MACHINES))
def test_killed_sshd_mid_download_keeps_the_local_file(kind, private_sshd_server, tmp_path):
    if kind == "putty" and not shutil.which("plink"):
        pytest.skip("plink (putty-tools) is not installed")
    s = private_sshd_server
    source = tmp_path / "remote.bin"
    with open(source, "wb") as f:
        f.truncate(SIZE)
    local_dir = tmp_path / "here"
    local_dir.mkdir()
    (local_dir / "remote.bin").write_text("old content")
    killed_at = transfer_cut_by_a_killed_server(
        kind, s, lambda rem, progress: rem.download(source, local_dir, progress=progress)
    )
    assert killed_at, "the download ended before the server could be killed"
    assert os.listdir(local_dir) == ["remote.bin"] and (local_dir / "remote.bin").read_text() == "old content"
