"""``make bench``: time tether side by side with its peers and print the table.

::

    .venv/bin/python bench/run.py                    # every case (several minutes)
    .venv/bin/python bench/run.py --quick            # 3 samples a variant: a smoke test
    .venv/bin/python bench/run.py --only 'local.*'   # cases by glob (or substring)
    .venv/bin/python bench/run.py --list             # case names and titles
    make bench BENCH_ARGS="--quick --only session"

tether's variants run in this interpreter (sys.executable); the peers' in
bench/.venv, which is built on first use from bench/requirements-peers.txt.
The results also go to bench/results/latest.json. The exit status is 0 unless
the harness itself failed (or, with ``--strict``, a goal was missed).
"""

from __future__ import annotations

import argparse
import datetime
import fnmatch
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

from cases import load_cases
from harness import Case, CaseResult, PeerEnv, print_report, results_json, run_case
from rich.console import Console

BENCH = Path(__file__).resolve().parent


def select(cases: list[Case], patterns: list[str]) -> list[Case]:
    """Cases whose name matches any glob, or contains any pattern without glob characters."""
    if not patterns:
        return cases

    def hit(name: str, pattern: str) -> bool:
        return fnmatch.fnmatchcase(name, pattern) if any(c in pattern for c in "*?[") else pattern in name

    return [c for c in cases if any(hit(c.name, p) for p in patterns)]


def tether_version_here() -> str:
    """tether's version as this interpreter sees it ("?" if it cannot be imported)."""
    try:
        return metadata.version("tether")
    except metadata.PackageNotFoundError:
        try:
            import tether

            return str(tether.__version__)
        except Exception:
            return "?"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 samples per variant: a smoke test")
    parser.add_argument("--only", action="append", default=[], metavar="PATTERN",
                        help="run only cases matching PATTERN (glob or substring; repeatable)")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--no-peers", action="store_true", help="do not build bench/.venv; skip the peers")
    parser.add_argument("--peers-lock", type=Path, default=BENCH / "requirements-peers.lock", metavar="PATH",
                        help="constraints the peers install from (make lock refreshes it)")
    parser.add_argument("--reinstall-peers", action="store_true", help="rebuild bench/.venv from scratch")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument("--json", type=Path, default=BENCH / "results" / "latest.json", metavar="PATH",
                        help="where to write the results (default: bench/results/latest.json)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console() if sys.stdout.isatty() else Console(width=120)
    cases = select(load_cases(), args.only)
    if args.list or not cases:
        for c in cases:
            console.print(f"{c.name:24} {c.title}")
        if not cases:
            console.print(f"[red]no case matches {args.only}[/]")
        return 0 if cases else 2

    peers = PeerEnv(BENCH / ".venv", BENCH / "requirements-peers.txt", args.peers_lock)
    if args.no_peers:
        peers.problem = "--no-peers given"
    elif any(v.interpreter == "peers" for c in cases for v in c.variants):
        peers.ensure(console, reinstall=args.reinstall_peers)
    pythons = {"tether": sys.executable, "peers": "" if peers.problem else str(peers.python)}
    tether_version = tether_version_here()

    load_before = os.getloadavg()
    console.print(f"[bold]{len(cases)} case(s)[/]{' (quick)' if args.quick else ''} on {os.cpu_count()} CPUs, "
                  f"load {load_before[0]:.2f}; tether {tether_version}, Python {platform.python_version()}")
    results: list[CaseResult] = []
    for case in cases:
        run = case.scaled(args.quick)
        with console.status(f"{case.name}") as status:
            result = run_case(run, pythons, lambda v: peers.why_missing(v.requires) if v.interpreter == "peers" else None,
                              progress=status.update)
        for v, spec in zip(result.variants, case.variants, strict=True):
            v.version = tether_version if spec.interpreter == "tether" and spec.name.startswith("tether") else ""
            if spec.requires and spec.requires[0] in peers.status:
                v.version = peers.status[spec.requires[0]].get("version", "")
        results.append(result)
        console.print(f"  {case.name}: done in {result.seconds:.0f} s")

    print_report(console, results, {c.name: c for c in cases})
    meta = {
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "tether": tether_version,
        "peers": peers.status,
        "peers_problem": peers.problem,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results_json(results, meta), indent=1))
    console.print(f"[dim]results: {args.json}[/]")
    missed = any(g.status == "MISS" for r in results for g in r.goals)
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        sys.exit(130)
