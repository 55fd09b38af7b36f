"""LocalPath: plumbum's path names over the local file system."""

import os

import pytest

from tether import local
from tether.paths.local import LocalPath, atomic_writer, tempdir


@pytest.fixture
def tree(tmp_path):
    root = LocalPath(tmp_path)
    (root / "a.txt").write("alpha")
    (root / "b.tar.gz").write(b"\x00\x01")
    (root / "with space").mkdir()
    (root / "with space" / "c.txt").write("gamma")
    (root / "with space" / "deep").mkdir()
    (root / "with space" / "deep" / "d.txt").write("delta")
    return root


def test_names_and_suffixes_follow_pathlib():
    p = LocalPath("/srv/data/archive.tar.gz")
    assert (p.name, p.stem, p.suffix, p.suffixes) == ("archive.tar.gz", "archive.tar", ".gz", [".tar", ".gz"])
    assert p.with_suffix(".bz2") == LocalPath("/srv/data/archive.tar.bz2")
    assert p.with_suffix(".zip", depth=2) == LocalPath("/srv/data/archive.zip")
    assert p.with_suffix("", depth=None).name == "archive"
    assert p.with_name("x") == "/srv/data/x"
    assert p.parent == p.dirname == LocalPath("/srv/data")
    assert p.up(2) == LocalPath("/srv")
    assert LocalPath(".bashrc").suffix == "" and LocalPath(".bashrc").stem == ".bashrc"
    assert p.relative_to("/srv") == "data/archive.tar.gz"
    assert LocalPath("/a b/ü").as_uri() == "file:///a%20b/%C3%BC"
    with pytest.raises(ValueError, match="suffix"):
        p.with_suffix("gz")


def test_join_normalises_and_is_a_pathlike():
    p = local.path("/tmp") / "x" / ".." / "y"
    assert str(p) == "/tmp/y" and os.fspath(p) == "/tmp/y"
    assert "/etc" / LocalPath("hosts") == LocalPath("/etc/hosts")
    assert repr(p) == "<LocalPath /tmp/y>"
    with pytest.raises(ValueError, match="NUL"):
        LocalPath("/tmp/a\0b")


def test_glob_with_tuples_recursion_and_spaces(tree):
    assert [p.name for p in tree // "*.txt"] == ["a.txt"]
    assert [p.name for p in tree // ("*.txt", "*.gz")] == ["a.txt", "b.tar.gz"]
    deep = [p.relative_to(tree) for p in tree // "**/*.txt"]
    assert deep == ["a.txt", "with space/c.txt", "with space/deep/d.txt"]
    assert (tree / "with space") // "*.txt" == [tree / "with space" / "c.txt"]


def test_walk_never_reads_a_pruned_directory_and_yields_as_it_goes(tree, monkeypatch):
    read = []
    real_scandir = os.scandir

    def recording_scandir(path):
        read.append(os.path.relpath(path, tree))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", recording_scandir)
    walk = tree.walk(dir_filter=lambda d: d.name != "deep")
    assert next(walk).name == "a.txt" and read == ["."]  # the first path comes before any deeper read
    assert [p.name for p in walk] == ["b.tar.gz", "with space", "c.txt", "deep"]
    assert read == [".", "with space"]  # "deep" was pruned: never listed


def test_queries_list_and_walk(tree):
    assert [p.name for p in tree.list()] == ["a.txt", "b.tar.gz", "with space"]
    assert sorted(p.name for p in tree.iterdir()) == ["a.txt", "b.tar.gz", "with space"]
    walked = [p.relative_to(tree) for p in tree.walk(dir_filter=lambda d: d.name != "deep")]
    assert walked == ["a.txt", "b.tar.gz", "with space", "with space/c.txt", "with space/deep"]
    assert (tree / "a.txt").is_file() and not (tree / "a.txt").is_dir()
    assert (tree / "a.txt").stat().st_size == 5
    assert not (tree / "missing").exists()


def test_symlink_to_a_file_is_a_file(tree):
    (tree / "a.txt").symlink(tree / "link")
    link = tree / "link"
    assert link.is_symlink() and link.is_file() and link.read() == "alpha"
    assert link.readlink() == tree / "a.txt"
    assert link.resolve() == (tree / "a.txt").resolve()


def test_read_and_write_text_bytes_and_append(tree):
    f = tree / "new.txt"
    f.write("héllo\r\n", encoding="utf-8")
    assert f.read() == "héllo\r\n" and f.read(None) == "héllo\r\n".encode()
    f.write(b"more", mode="a")
    assert f.read_bytes() == "héllo\r\n".encode() + b"more"


def test_write_is_atomic_and_keeps_the_mode(tree):
    f = tree / "a.txt"
    f.chmod(0o640)
    with pytest.raises(RuntimeError), atomic_writer(str(f)) as out:
        out.write(b"half written")
        raise RuntimeError("interrupted")
    assert f.read() == "alpha"
    assert [p.name for p in tree // ".tether-*"] == []  # no temp file left behind
    f.write("replaced")
    assert f.read() == "replaced" and f.stat().st_mode & 0o777 == 0o640


def test_mkdir_touch_copy_move_delete(tree):
    d = tree / "x" / "y"
    d.mkdir()
    d.mkdir()  # exists: quietly fine, as in plumbum
    with pytest.raises(FileExistsError):
        d.mkdir(exist_ok=False)
    (d / "t").touch()
    copied = (tree / "with space").copy(d)
    assert (copied / "deep" / "d.txt").read() == "delta"
    with pytest.raises(FileExistsError):
        (tree / "with space").copy(d)
    moved = (tree / "a.txt").move(tree / "x")
    assert moved == tree / "x" / "a.txt" and moved.read() == "alpha" and not (tree / "a.txt").exists()
    (tree / "x").delete()
    (tree / "x").delete()  # already gone: fine
    assert not (tree / "x").exists()
    with pytest.raises(FileNotFoundError):
        (tree / "x").unlink()


def test_tempdir_is_removed_with_content():
    with local.tempdir() as d:
        (d / "f").write("x")
        assert d.is_dir()
    assert not d.exists()
    with tempdir() as d2:
        assert d2 != d


def test_cwd_gives_local_paths(tmp_path):
    with local.cwd(tmp_path):
        assert local.cwd / "x" == LocalPath(tmp_path, "x")
        assert local.path("rel") == LocalPath(tmp_path) / "rel"
