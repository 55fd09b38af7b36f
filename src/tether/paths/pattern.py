"""Glob patterns and tree listings, with no I/O: local and remote paths share them.

A machine lists a directory tree once (``Entry`` rows, relative paths); the
functions here pick what a pattern matches and what a walk yields, so a
recursive glob on a remote host costs one round trip, not one per directory.

Semantics follow :func:`glob.glob` with ``recursive=True``: ``*``, ``?`` and
``[...]`` match within one name, ``**`` as a whole segment matches zero or
more directories, and a name starting with ``.`` is matched only by a
segment that starts with ``.`` too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase


@dataclass(frozen=True)
class Entry:
    """One path below a listed directory."""

    parts: tuple[str, ...]  # relative to the listed directory, never empty
    is_dir: bool  # a directory, or a link to one
    is_link: bool


def split_patterns(pattern: str | Iterable[str]) -> list[str]:
    """``"*.py"`` or ``("*.py", "*.txt")`` as a list; refuses absolute patterns."""
    patterns = [pattern] if isinstance(pattern, str) else list(pattern)
    for pat in patterns:
        if not isinstance(pat, str) or not pat:
            raise ValueError(f"a glob pattern must be a non-empty string, not {pat!r}")
        if pat.startswith("/"):
            raise ValueError(f"a glob pattern is relative to the path it applies to, not absolute: {pat!r}")
    return patterns


def depth_needed(patterns: Sequence[str]) -> int | None:
    """How deep a listing must go for ``patterns`` (None: all the way, for ``**``)."""
    deepest = 0
    for pat in patterns:
        segments = _segments(pat)
        if "**" in segments:
            return None
        deepest = max(deepest, len(segments))
    return deepest


def matches(pattern: str, parts: Sequence[str]) -> bool:
    """Whether the relative path ``parts`` matches ``pattern``."""
    return _match(_segments(pattern), tuple(parts))


def select(patterns: Sequence[str], entries: Iterable[Entry]) -> list[tuple[str, ...]]:
    """The entries' parts that match any of ``patterns``, sorted."""
    segmented = [_segments(p) for p in patterns]
    return sorted(e.parts for e in entries if any(_match(s, e.parts) for s in segmented))


def walk_order(
    entries: Iterable[Entry], keep: Callable[[tuple[str, ...]], bool], descend: Callable[[tuple[str, ...]], bool]
) -> list[tuple[str, ...]]:
    """Depth-first, name-sorted parts of ``entries``; no descent where ``descend`` says no.

    Links to directories are listed but not entered (no loops).
    """
    by_parts = {e.parts: e for e in entries}
    pruned: set[tuple[str, ...]] = set()
    result = []
    for parts in sorted(by_parts):
        if any(parts[:i] in pruned for i in range(1, len(parts))):
            continue
        entry = by_parts[parts]
        if keep(parts):
            result.append(parts)
        if not entry.is_dir or entry.is_link or not descend(parts):
            pruned.add(parts)
    return result


def _segments(pattern: str) -> tuple[str, ...]:
    return tuple(s for s in pattern.split("/") if s and s != ".")


def _match(segments: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    if not segments:
        return not parts
    head, rest = segments[0], segments[1:]
    if head == "**":
        # zero directories, or one more (never a hidden one, as glob does)
        if _match(rest, parts):
            return True
        return bool(parts) and not parts[0].startswith(".") and _match(segments, parts[1:])
    if not parts:
        return False
    name = parts[0]
    if name.startswith(".") and not head.startswith("."):
        return False
    return fnmatchcase(name, head) and _match(rest, parts[1:])
