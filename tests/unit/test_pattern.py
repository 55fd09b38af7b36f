"""The glob and walk rules every machine's paths share, without any I/O."""

import glob
import os

import pytest

from tether.paths.pattern import Entry, depth_needed, matches, select, split_patterns, walk_order


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.txt", "a.txt", True),
        ("*.txt", "d/a.txt", False),
        ("*/a.txt", "d/a.txt", True),
        ("**/a.txt", "a.txt", True),  # ** is zero or more directories
        ("**/a.txt", "d/e/a.txt", True),
        ("**", "d/e", True),
        ("*", ".hidden", False),  # a leading dot needs a leading dot
        (".*", ".hidden", True),
        ("**/x", ".git/x", False),  # ** does not enter hidden directories
        ("[ab]?.py", "b1.py", True),
        ("with space/*.txt", "with space/c.txt", True),
    ],
)
def test_matches_follow_glob(pattern, path, expected):
    assert matches(pattern, path.split("/")) is expected


def test_agrees_with_the_stdlib_on_a_real_tree(tmp_path):
    for rel in ["a.txt", "b.tar.gz", "d/c.txt", "d/e/f.txt", ".h/g.txt", ".i.txt", "d/.j.txt"]:
        os.makedirs(tmp_path / os.path.dirname(rel), exist_ok=True)
        (tmp_path / rel).write_text(rel)
    entries = []
    for root, dirs, files in os.walk(tmp_path):
        prefix = os.path.relpath(root, tmp_path).split(os.sep) if root != str(tmp_path) else []
        entries += [Entry((*prefix, n), n in dirs, False) for n in dirs + files]
    for pattern in ["*", "*.txt", "**/*.txt", "**", "*/*", ".*", "d/**/*.txt", "*/e/*"]:
        ours = ["/".join(parts) for parts in select([pattern], entries)]
        theirs = sorted(
            os.path.relpath(p, tmp_path) for p in glob.glob(os.path.join(tmp_path, pattern), recursive=True)
            if p.rstrip("/") != str(tmp_path)
        )
        assert ours == theirs, pattern


def test_depth_and_pattern_checks():
    assert depth_needed(["*.py", "a/*/b"]) == 3
    assert depth_needed(["*.py", "**/x"]) is None
    assert split_patterns("*.py") == ["*.py"] and split_patterns(("a", "b")) == ["a", "b"]
    with pytest.raises(ValueError, match="relative"):
        split_patterns("/etc/*")
    with pytest.raises(ValueError, match="non-empty"):
        split_patterns(("*.py", ""))


def test_walk_order_is_depth_first_and_prunes():
    entries = [
        Entry(("b",), True, False), Entry(("b", "x"), False, False), Entry(("a",), False, False),
        Entry(("c",), True, True), Entry(("b", "y"), True, False), Entry(("b", "y", "z"), False, False),
    ]
    every = walk_order(entries, lambda p: True, lambda p: True)
    assert every == [("a",), ("b",), ("b", "x"), ("b", "y"), ("b", "y", "z"), ("c",)]
    pruned = walk_order(entries, lambda p: True, lambda p: p != ("b", "y"))
    assert ("b", "y") in pruned and ("b", "y", "z") not in pruned
    files = walk_order(entries, lambda p: p[-1] in "axz", lambda p: True)
    assert files == [("a",), ("b", "x"), ("b", "y", "z")]
