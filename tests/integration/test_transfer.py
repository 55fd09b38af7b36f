"""upload/download on every remote machine: files and trees, modes kept, atomic replacement."""

import os
import shutil
import signal
import time

import pytest

from tether import NativeSshMachine, PuttyMachine, SshMachine

pytestmark = pytest.mark.sshd

MACHINES = {"ssh": SshMachine, "native": NativeSshMachine, "putty": PuttyMachine}


@pytest.fixture(scope="module", params=list(MACHINES))
def rem(request, sshd_server):
    if request.param == "putty" and not shutil.which("plink"):
        pytest.skip("plink (putty-tools) is not installed")
    s = sshd_server
    with MACHINES[request.param](s.host, user=s.user, port=s.port, keyfile=s.client_key, known_hosts=s.known_hosts) as m:
        yield m


def test_file_round_trip_keeps_bytes_and_mode(rem, tmp_path):
    data = os.urandom(3 << 20) + b"\x00tail"
    src = tmp_path / "a file.bin"
    src.write_bytes(data)
    src.chmod(0o640)
    with rem.tempdir() as d:
        uploaded = rem.upload(src, d)
        assert uploaded == d / "a file.bin"
        assert rem["stat"]("-c", "%a %s", str(uploaded)).split() == ["640", str(len(data))]
        back = rem.download(uploaded, tmp_path / "back.bin")
        assert back.read(None) == data and back.stat().st_mode & 0o777 == 0o640
        assert [p.name for p in d.list()] == ["a file.bin"]  # no temp file left beside it


def test_tree_round_trip(rem, tmp_path):
    tree = tmp_path / "tree"
    (tree / "sub dir").mkdir(parents=True)
    (tree / "x.txt").write_text("x")
    (tree / "sub dir" / "run.sh").write_text("#!/bin/sh\n")
    (tree / "sub dir" / "run.sh").chmod(0o755)
    with rem.tempdir() as d:
        rem.upload(tree, d)
        assert (d / "tree" / "sub dir" / "run.sh").is_file()
        out = tmp_path / "out"
        out.mkdir()
        back = rem.download(d / "tree", out)
        assert (back / "x.txt").read_text() == "x"
        assert os.stat(back / "sub dir" / "run.sh").st_mode & 0o777 == 0o755


def test_missing_sources_are_clear(rem, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing to upload"):
        rem.upload(tmp_path / "nope", "/tmp")
    with pytest.raises(FileNotFoundError, match="nothing to download"):
        rem.download("/no/such/file", tmp_path)


def test_interrupted_upload_leaves_the_old_content(rem, tmp_path):
    big = tmp_path / "big"
    with open(big, "wb") as f:
        f.truncate(200 << 20)  # sparse: fast to make, slow enough to send
    with rem.tempdir() as d:
        (d / "big").write("old")

        def interrupt(signum, frame):
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGALRM, interrupt)
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        try:
            with pytest.raises(KeyboardInterrupt):
                rem.upload(big, d / "big")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        deadline = time.monotonic() + 5
        while len(d.list()) > 1 and time.monotonic() < deadline:  # the remote side cleans up its temp file
            time.sleep(0.05)
        assert (d / "big").read() == "old"
        assert [p.name for p in d.list()] == ["big"]


def test_async_machines_transfer_too(sshd_server, tmp_path):
    import asyncio

    from tether import aio

    s = sshd_server
    (tmp_path / "a.txt").write_text("async")

    async def main():
        async with aio.NativeSshMachine(
            s.host, user=s.user, port=s.port, keyfile=s.client_key, known_hosts=s.known_hosts
        ) as rem:
            seen = []
            up = await rem.upload(tmp_path / "a.txt", str(tmp_path / "up.txt"), progress=lambda *p: seen.append(p))
            back = await rem.download(str(up), tmp_path / "back.txt")
            await rem.close()
            return seen, back

    seen, back = asyncio.run(main())
    assert back.read() == "async" and seen[-1] == (5, 5)
