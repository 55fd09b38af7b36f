"""RemotePath against the real sshd fixture, on SshMachine, NativeSshMachine and PuttyMachine."""

import errno
import gc
import os
import shutil
import time

import pytest

from tether import NativeSshMachine, PuttyMachine, SshMachine, TransferError, local
from tether import path as tpath
from tether.paths.local import LocalPath
from tether.paths.remote import RemotePath

pytestmark = pytest.mark.sshd

MACHINES = {"ssh": SshMachine, "native": NativeSshMachine, "putty": PuttyMachine}
# every kind of name a shell could trip over
AWKWARD = ["with space", "new\nline", "quo'te\"s", "ünïcødé ✓", "-leading-dash", "$(echo no)`id`;*", "trailing\n"]


def connect(server, kind):
    if kind == "putty" and not shutil.which("plink"):
        pytest.skip("plink (putty-tools) is not installed")
    s = server
    return MACHINES[kind](s.host, user=s.user, port=s.port, keyfile=s.client_key, known_hosts=s.known_hosts)


@pytest.fixture(scope="module", params=list(MACHINES))
def rem(request, sshd_server):
    with connect(sshd_server, request.param) as machine:
        yield machine


@pytest.fixture
def d(rem):
    with rem.tempdir() as directory:
        yield directory


def test_seed_remote_paths_section(rem):
    p = rem.path("/bin")
    assert repr(p / "ls") == "<RemotePath /bin/ls>"
    assert (p / "ls").is_file()
    disks = rem.path("/dev") // "sd*"  # as written; a container may have no disks, so also:
    assert all(isinstance(p, RemotePath) and p.name.startswith("sd") for p in disks)
    found = rem.path("/dev") // "tty*"
    assert found and all(str(f).startswith("/dev/tty") for f in found) and found == sorted(found)


@pytest.mark.parametrize("name", AWKWARD, ids=repr)
def test_awkward_names_work_everywhere(rem, d, name):
    f = d / name
    f.write(f"content of {name}")
    assert f.exists() and f.is_file() and not f.is_dir()
    assert f.read() == f"content of {name}"
    assert [p.name for p in d.list()] == [name]
    assert d // "*" == [f] if not name.startswith(".") else True
    assert f.stat().st_size == len(f"content of {name}".encode())
    moved = f.move(d / (name + " moved"))
    assert not f.exists() and moved.read() == f"content of {name}"
    sub = d / (name + " dir")
    sub.mkdir()
    moved.copy(sub)
    assert (sub / moved.name).read_bytes() == f"content of {name}".encode()
    sub.delete()
    moved.unlink()
    assert d.list() == []


def test_names_survive_the_round_trip_through_this_machine(rem, d, tmp_path):
    for name in AWKWARD:
        (tmp_path / name).write_bytes(name.encode())
    rem.upload(tmp_path, d / "up")
    assert sorted(p.name for p in (d / "up").list()) == sorted(AWKWARD)
    back = rem.download(d / "up", tmp_path / "back")
    assert {p.name: p.read() for p in back.list()} == {n: n for n in AWKWARD}


def test_symlinks_follow_pathlib(rem, d):
    (d / "file").write("x")
    (d / "dir").mkdir()
    (d / "file").symlink(d / "to file")
    (d / "dir").symlink(d / "to dir")
    (d / "gone").symlink(d / "dangling")
    assert (d / "to file").is_file() and (d / "to file").is_symlink() and not (d / "to file").is_dir()
    assert (d / "to dir").is_dir() and (d / "to dir").is_symlink()
    assert not (d / "dangling").exists() and (d / "dangling").is_symlink() and not (d / "dangling").is_file()
    assert (d / "to file").readlink() == d / "file"
    assert (d / "to file").resolve() == d / "file"
    assert (d / "to file").lstat().st_mode != (d / "to file").stat().st_mode
    # a walk lists the link to a directory but does not go through it
    (d / "dir" / "inner").write("y")
    names = [p.relative_to(d) for p in d.walk()]
    assert names == ["dangling", "dir", "dir/inner", "file", "to dir", "to file"]


def test_glob_patterns(rem, d):
    for rel in ["a.txt", "b.tar.gz", "with space/c.txt", "with space/deep/d.txt", ".hidden.txt", ".git/e.txt"]:
        (d / rel).parent.mkdir()
        (d / rel).write(rel)
    assert [p.name for p in d // "*.txt"] == ["a.txt"]
    assert [p.name for p in d // ("*.txt", "*.gz")] == ["a.txt", "b.tar.gz"]
    assert [p.relative_to(d) for p in d // "**/*.txt"] == ["a.txt", "with space/c.txt", "with space/deep/d.txt"]
    assert [p.relative_to(d) for p in d // "*/c.txt"] == ["with space/c.txt"]
    assert [p.name for p in d // ".*.txt"] == [".hidden.txt"]
    assert (d / "a.txt") // "*" == []  # a file has nothing below it
    assert [p.relative_to(d) for p in d.walk(dir_filter=lambda p: p.name != "deep")][:3] == [".git", ".git/e.txt", ".hidden.txt"]


def test_streaming_open(rem, d):
    big = d / "big.bin"
    chunk = os.urandom(1 << 20)
    with big.open("wb") as f:
        for _ in range(9):  # more than two frames
            f.write(chunk)
    assert big.stat().st_size == 9 << 20
    with big.open("rb") as f:
        assert f.read(len(chunk)) == chunk
        assert f.read(10) == chunk[:10]
    # closing early stops the sender; the connection stays usable
    with (d / "t.txt").open("w", encoding="latin-1") as f:
        f.write("héllo\n")
    assert (d / "t.txt").read(None) == "héllo\n".encode("latin-1")
    with (d / "t.txt").open("r", encoding="latin-1") as f:
        assert f.readline() == "héllo\n"
    with pytest.raises(ValueError, match="'a'"):
        (d / "t.txt").open("a")


def test_a_failed_write_keeps_the_old_content(rem, d):
    f = d / "keep"
    f.write("old")
    f.chmod(0o640)
    for mode in ("w", "wb"):
        with pytest.raises(RuntimeError), f.open(mode) as out:
            out.write("new" if mode == "w" else b"new")
            raise RuntimeError("half way")
        assert f.read() == "old"
    f.write("new")
    assert f.read() == "new" and f.stat().st_mode & 0o777 == 0o640  # the mode is kept
    assert [p.name for p in d.list()] == ["keep"]
    with pytest.raises(TransferError, match="No such file"):
        (d / "no such dir" / "x").write("x")


def test_changes_and_their_errors(rem, d):
    sub = d / "a" / "b"
    sub.mkdir(mode=0o750)
    assert sub.is_dir() and sub.stat().st_mode & 0o777 == 0o750
    sub.mkdir()  # exist_ok by default
    with pytest.raises(FileExistsError):
        sub.mkdir(exist_ok=False)
    with pytest.raises(FileNotFoundError) as info:
        (d / "x" / "y").mkdir(parents=False)
    assert rem.host in str(info.value) and info.value.filename == str(d / "x" / "y")
    (sub / "f").touch()
    with pytest.raises(OSError) as info:
        sub.rmdir()
    assert info.value.errno == errno.ENOTEMPTY
    with pytest.raises(IsADirectoryError):
        sub.unlink()
    with pytest.raises(FileNotFoundError):
        (d / "missing").unlink()
    (d / "missing").unlink(missing_ok=True)
    (sub / "f").chmod(0o604)
    assert (sub / "f").stat().st_mode & 0o777 == 0o604
    uid = (sub / "f").uid
    (d / "a").chown(uid, recursive=True)
    assert (sub / "f").stat().st_uid == uid
    (sub / "f").unlink()
    sub.rmdir()
    assert not sub.exists()
    (d / "a").delete()
    (d / "a").delete()  # missing is fine
    assert d.list() == []


def test_names_and_uris(rem):
    p = rem.path("/srv/a dir/x.tar.gz")
    assert (p.name, p.stem, p.suffix, p.suffixes) == ("x.tar.gz", "x.tar", ".gz", [".tar", ".gz"])
    assert p.with_suffix(".zip", 2) == rem.path("/srv/a dir/x.zip") and p.with_name("y") == rem.path("/srv/a dir/y")
    assert p.parent == p.dirname == rem.path("/srv/a dir")
    assert p.relative_to(rem.path("/srv")) == "a dir/x.tar.gz"
    assert p.as_uri() == f"ssh://{rem.host}/srv/a%20dir/x.tar.gz"
    assert rem.path("~/x").expanduser() == rem.path(rem.env["HOME"], "x")
    assert rem.path("~root").expanduser() == rem.path("/root")
    with pytest.raises(LookupError):
        rem.path("~nosuchuserxyz/a").expanduser()


def test_copy_and_move_between_machines(rem, d, sshd_server, tmp_path):
    data = os.urandom(3 << 20)
    src = LocalPath(tmp_path / "src.bin")
    src.write(data)
    seen = []
    up = tpath.copy(src, d, progress=lambda done, total: seen.append((done, total)))
    assert up == d / "src.bin" and up.read(None) == data
    assert seen[0] == (0, len(data)) and seen[-1] == (len(data), len(data))
    with connect(sshd_server, "native") as other:  # another connection: bytes stream through us
        with other.tempdir() as od:
            there = tpath.copy(up, od / "copy.bin")
            assert there.read(None) == data and there.machine is other
            tree = d / "tree"
            (tree / "sub").mkdir()
            (tree / "sub" / "x").write("x")
            moved = tpath.move(tree, od)
            assert not tree.exists() and (moved / "sub" / "x").read() == "x"
    with pytest.raises(FileExistsError):
        up.copy(d / "src.bin")  # override=False is the method's default
    down = tpath.move(up, tmp_path / "down.bin")
    assert down.read(None) == data and not up.exists()
    tpath.delete(down, d / "nothing-here")
    assert not down.exists()
    with pytest.raises(FileNotFoundError, match="nothing to copy"):
        tpath.copy(d / "absent", tmp_path)


def test_local_path_copy_to_a_remote_path(rem, d, tmp_path):
    tree = local.path(tmp_path) / "tree"
    (tree / "bin").mkdir()
    (tree / "bin" / "run").write("#!/bin/sh\n")
    (tree / "bin" / "run").chmod(0o755)
    copied = tree.copy(d)
    assert copied == d / "tree" and (copied / "bin" / "run").stat().st_mode & 0o777 == 0o755


def test_a_name_that_is_not_utf8(rem, d):
    name = os.fsdecode(b"caf\xe9 latin-1")  # bytes a listing must hand back unchanged
    f = d / name
    f.write("x")
    assert [p.name for p in d.list()] == [name] and d // "caf*" == [f]
    assert f.exists() and f.stat().st_size == 1 and f.read() == "x"
    f.unlink()
    assert d.list() == []


def test_writing_over_a_directory_fails_and_leaves_it(rem, d):
    (d / "dir").mkdir()
    with pytest.raises(TransferError, match="dir"):
        (d / "dir").write("x")
    assert (d / "dir").is_dir() and (d / "dir").list() == [] and [p.name for p in d.list()] == ["dir"]


def test_native_paths_without_sftp_use_the_shell(tmp_path, sshd_server):
    if sshd_server.kind != "openssh":
        pytest.skip("needs OpenSSH's sshd to start one without SFTP")
    from tether.testing import start_openssh_server

    with start_openssh_server(tmp_path / "server", sftp=False) as s, connect(s, "native") as rem:
        assert rem.aio.sftp() is None  # refused: asked once, then the shell answers
        with rem.tempdir() as d:
            (d / "sub").mkdir()
            (d / "sub" / "f.txt").write("x")
            assert (d / "sub" / "f.txt").is_file() and (d / "sub" / "f.txt").stat().st_ino > 0
            assert [p.relative_to(d) for p in d // "**/*.txt"] == ["sub/f.txt"]
            assert rem.download(d / "sub" / "f.txt", tmp_path / "f.txt").read() == "x"
            with pytest.raises(OSError) as info:
                (d / "sub").rmdir()
            assert info.value.errno == errno.ENOTEMPTY


def test_a_writer_dropped_without_close_commits_nothing(rem, d):
    (d / "kept").write("old")
    for mode in ("w", "wb"):
        f = (d / "kept").open(mode)
        f.write("half" if mode == "w" else b"half")
        del f
        gc.collect()
    assert (d / "kept").read() == "old"
    deadline = time.monotonic() + 5
    while len(d.list()) > 1 and time.monotonic() < deadline:  # the remote side cleans up
        time.sleep(0.02)
    assert [p.name for p in d.list()] == ["kept"]
