"""The stages that run on one remote machine, as ONE POSIX shell line.

A remote machine runs every consecutive stage of a pipeline that lives on it
as one shell pipeline over one connection, so the data between those stages
never crosses the network. The line also carries the machine's working
directory and environment changes::

    cd /srv || exit 1; export LANG=C; ls -l

The command comes last, as a plain statement, so the shell can replace
itself with it (bash and dash do) instead of forking.

A POSIX shell reports only the last stage's exit status. For pipefail
semantics without assuming bash, each stage of a multi-stage pipeline
records its status in a temp file; the line then exits with the status of
the rightmost stage that failed, ignoring an upstream stage killed by
SIGPIPE (its reader stopped early, as in ``yes | head -1``), exactly like a
local pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .plan import Stage, stage_shell_line
from .quoting import check_length, quote

_SIGPIPE_STATUS = 141  # 128 + SIGPIPE, as shells report it


def remote_line(
    stages: Sequence[Stage],
    *,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    unset: Sequence[str] = (),
) -> str:
    """The shell line that runs ``stages`` in ``cwd`` with ``env`` applied."""
    prefix = []
    if cwd is not None:
        prefix.append(f"cd {quote(cwd)} || exit 1; ")
    if unset:
        prefix.append("unset " + " ".join(unset) + "; ")
    if env:
        prefix.append("export " + " ".join(f"{k}={quote(v)}" for k, v in env.items()) + "; ")
    return check_length("".join(prefix) + _pipeline(stages))


def _pipeline(stages: Sequence[Stage]) -> str:
    if len(stages) == 1:
        return stage_shell_line(stages[0])
    last = len(stages) - 1
    recorded = " | ".join(
        f'{{ {stage_shell_line(stage)}\necho "{index} $?" >>"$_tether_st"; }}' for index, stage in enumerate(stages)
    )
    # the rightmost failing stage decides; an upstream SIGPIPE is not a failure
    verdict = (
        "_tether_rc=0; _tether_at=-1; "
        "while read _tether_i _tether_c; do "
        f'if [ "$_tether_c" -ne 0 ] && [ "$_tether_i" -gt "$_tether_at" ] && '
        f'{{ [ "$_tether_i" -eq {last} ] || [ "$_tether_c" -ne {_SIGPIPE_STATUS} ]; }}; then '
        "_tether_rc=$_tether_c; _tether_at=$_tether_i; fi; "
        'done <"$_tether_st"; rm -f "$_tether_st"; exit $_tether_rc'
    )
    return f'( _tether_st=$(mktemp) || exit 125; {recorded}\n{verdict} )'
