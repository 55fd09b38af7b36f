"""Name every installed package whose version differs from the lock file.

``make test-latest`` installs today's newest releases and runs this before the
tests (what drifted) and, with ``--failed``, after a failing run (what is the
likely cause, and how to keep users safe), so drift is a named, explained
failure and not a mystery at a user's desk::

    python scripts/drift.py requirements/test.lock
    python scripts/drift.py --failed requirements/test.lock
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib import metadata
from pathlib import Path


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock: Path) -> dict[str, str]:
    pins = (re.match(r"([A-Za-z0-9._-]+)==(\S+)", line) for line in lock.read_text().splitlines())
    return {canonical(m.group(1)): m.group(2) for m in pins if m}


def installed_versions() -> dict[str, str]:
    return {canonical(d.metadata["Name"]): d.version for d in metadata.distributions() if d.metadata["Name"]}


def drift(locked: dict[str, str], installed: dict[str, str]) -> list[tuple[str, str, str]]:
    """(name, locked, installed) for each locked package installed at another version, or newly pulled in."""
    rows = [(name, version, installed[name]) for name, version in sorted(locked.items())
            if name in installed and installed[name] != version]
    tools = {"pip", "setuptools", "wheel", "tether"}
    rows += [(name, "-", version) for name, version in sorted(installed.items())
             if name not in locked and name not in tools]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("lock", type=Path)
    parser.add_argument("--failed", action="store_true", help="the tests failed: explain what to look at")
    args = parser.parse_args(argv)
    rows = drift(locked_versions(args.lock), installed_versions())
    if not rows:
        print(f"drift: every package is at its {args.lock} version")
        return 0
    print(f"drift: {len(rows)} package(s) differ from {args.lock}:")
    width = max(len(name) for name, _, _ in rows)
    for name, locked, now in rows:
        print(f"  {name:<{width}}  locked {locked:<12} now {now}")
    if args.failed:
        print(
            "\nmake test-latest FAILED on these releases, while `make test` (the lock) is the tested set.\n"
            "The failure above comes from one of them: read its changelog, fix tether (or cap the range\n"
            "in pyproject.toml with the reason beside it), then `make lock` to move the lock forward.",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
