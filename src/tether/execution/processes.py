"""Process listings (``list_processes()``, ``pgrep()``), parsed from ``ps``."""

from __future__ import annotations

from dataclasses import dataclass

# procps' ps where it exists; elsewhere (busybox's ps has no uid column and
# no -e/-ww, as in small container images) the same four fields from /proc,
# read with shell builtins and tr
PS_SCRIPT = (
    "ps -e -ww -o pid=,uid=,stat=,args= 2>/dev/null || "
    "for _d in /proc/[0-9]*; do read -r _s <\"$_d/stat\" 2>/dev/null || continue; "
    "_s=${_s##*) }; _u=; while read -r _k _v _; do [ \"$_k\" = Uid: ] && { _u=$_v; break; }; done <\"$_d/status\"; "
    "_a=$(tr '\\0' ' ' <\"$_d/cmdline\"); printf '%s %s %s %s\\n' \"${_d#/proc/}\" \"$_u\" \"${_s%% *}\" \"${_a% }\"; done"
)


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    uid: int
    stat: str
    args: str


def parse_ps(text: str) -> list[ProcInfo]:
    """Parse the output of :data:`PS_SCRIPT` (``ps -e -ww -o pid=,uid=,stat=,args=``)."""
    procs = []
    for line in text.splitlines():
        fields = line.split(None, 3)
        if len(fields) < 3 or not fields[0].isdigit():
            continue
        args = fields[3] if len(fields) > 3 else ""
        procs.append(ProcInfo(int(fields[0]), int(fields[1]), fields[2], args))
    return procs
