"""Process listings (``list_processes()``, ``pgrep()``), parsed from ``ps``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    uid: int
    stat: str
    args: str


def parse_ps(text: str) -> list[ProcInfo]:
    """Parse ``ps -e -ww -o pid=,uid=,stat=,args=`` output."""
    procs = []
    for line in text.splitlines():
        fields = line.split(None, 3)
        if len(fields) < 3 or not fields[0].isdigit():
            continue
        args = fields[3] if len(fields) > 3 else ""
        procs.append(ProcInfo(int(fields[0]), int(fields[1]), fields[2], args))
    return procs
