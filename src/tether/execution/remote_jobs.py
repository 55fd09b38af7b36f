"""Bookkeeping that lets tether end remote commands, as shell text (no I/O here).

Every command a remote machine runs records its shell's pid in a *job file*
``<run dir>/p<n>``; sshd starts each command's shell in a new session, so
that pid is also the process group to signal. The control shell (see
:mod:`tether.machines.remote`) installs two functions and a trap:

- ``_tether_kill SIG FILE`` signals the group of one job, if it still runs;
- an EXIT/HUP/TERM trap kills every running job: when the control shell
  ends (``close()``, a dropped connection, this process dying), nothing it
  started keeps running. It first removes ``<run dir>/alive``; a command
  starts only if that file still exists after recording itself, so none
  can slip past the trap.

"Still runs" must survive pid reuse. On Linux the job file holds the pid
AND its start time (field 22 of ``/proc/<pid>/stat``, read with shell
builtins only), and a pid counts only while its start time still matches:
a reused pid never does. That lets the command replace the wrapper shell
(no extra fork, about 1.5 ms a command) and leave its job file behind for a
periodic sweep. Without /proc the wrapper shell waits for the command and
empties the job file itself.
"""

from __future__ import annotations

from ..commands.quoting import quote

SWEEP_EVERY = 1000  # commands between removals of finished jobs' files


class RemoteJobs:
    def __init__(self, run_dir: str, has_proc: bool) -> None:
        self.run_dir = run_dir
        self.has_proc = has_proc
        self._alive = quote(f"{run_dir}/alive")

    def job_file(self, number: int) -> str:
        return f"{self.run_dir}/p{number}"

    @staticmethod
    def setup_script() -> str:
        """Control-shell text: make the run dir, define the functions, set the trap; prints the dir."""
        return (
            '_tether_run=$(mktemp -d "${TMPDIR:-/tmp}/tether-run.XXXXXX") && echo "$_tether_run" && '
            ': >"$_tether_run/alive"; '
            # _tether_live FILE: sets _tether_p to the job's pid if that process still
            # runs this job (same start time), else fails
            "_tether_live() { read -r _tether_p _tether_t <\"$1\" 2>/dev/null && [ -n \"$_tether_p\" ] || return 1; "
            "[ -r /proc/self/stat ] || return 0; "
            "read -r _tether_s </proc/$_tether_p/stat 2>/dev/null || return 1; "
            "_tether_s=${_tether_s##*) }; set -- $_tether_s; [ \"${20}\" = \"$_tether_t\" ]; }; "
            "_tether_kill() { _tether_live \"$2\" && kill -s \"$1\" -- -\"$_tether_p\" 2>/dev/null; return 0; }; "
            "_tether_stop() { rm -f \"$_tether_run/alive\"; for f in \"$_tether_run\"/p*; do "
            '[ -f "$f" ] && _tether_kill KILL "$f"; done; }; '
            "trap '_tether_stop; rm -rf \"$_tether_run\"' EXIT HUP TERM; "
            "[ -r /proc/self/stat ] && echo proc || echo noproc"
        )

    def wrap(self, line: str, number: int) -> str:
        """``line`` as run by a command's own shell, recorded as job ``number``."""
        job = quote(self.job_file(number))
        if self.has_proc:
            # pid and start time; the line's last command may replace this shell (same pid, same group)
            record = (
                "read -r _tether_s </proc/$$/stat && _tether_s=${_tether_s##*) } && set -- $_tether_s && "
                f'echo "$$ ${{20}}" >{job} && [ -e {self._alive} ]'
            )
            return f"{{ {record}; }} || exit 255; set --; {line}"
        start = f"{{ echo $$ >{job} && [ -e {self._alive} ]; }} || exit 255; "
        # no /proc to tell a live job from a reused pid: wait, then empty the file
        return f"{start}{{ {line}\n}}; _tether_rc=$?; : >{job}; exit $_tether_rc"

    def signal_script(self, number: int, signal_name: str) -> str:
        job = quote(self.job_file(number))
        if signal_name == "KILL":
            # TERM first, so the command's own clean-up runs (an upload removes its
            # temp file); KILL follows in two seconds for whatever ignores it
            return f"_tether_kill TERM {job}; ( sleep 2; _tether_kill KILL {job} ) </dev/null >/dev/null 2>&1 &"
        return f"_tether_kill {signal_name} {job}"

    @staticmethod
    def stop_script() -> str:
        return "_tether_stop"

    def sweep_script(self) -> str:
        """Remove the files of finished jobs (in a subshell: the session's arguments stay as they are)."""
        if self.has_proc:
            return (
                '( set --; for f in "$_tether_run"/p*; do [ -f "$f" ] || continue; '
                '_tether_live "$f" || set -- "$@" "$f"; done; [ $# -eq 0 ] || rm -f -- "$@" )'
            )
        return 'find "$_tether_run" -name "p*" -type f -empty -exec rm -f {} +'
