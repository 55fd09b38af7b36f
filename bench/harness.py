"""Side-by-side timing of tether and its peers: cases, workers, statistics, report.

A *case* is one thing to measure, done several ways. Each way is a *variant*:
a setup snippet and a timed statement, run by tether's interpreter
(``"tether"``) or by the peers' virtualenv (``"peers"``)::

    Case(
        name="local.true",
        title="local['true']() latency",
        variants=[
            Variant("tether", "tether", "from tether import local; cmd = local['true']", "cmd()"),
            Variant("plumbum", "peers", "from plumbum import local; cmd = local['true']", "cmd()",
                    requires=("plumbum",)),
        ],
        goals=[NoSlowerThan("plumbum")],
        number=10,
    )

Every variant runs in its own worker process (this file, ``--worker``): it runs
the setup, warms up, then answers "give me one sample" requests with the time
of ``number`` executions of the statement. The harness asks the workers in
turn, A B B A A B ..., so machine noise falls on all variants alike, reports
the median and p90 per execution, the ratio reference/peer (below 1.0 means
tether is faster) and each worker's peak RSS (the largest of the worker and
the children it reaped: see :func:`peak_rss_kb`).

``needs_sshd=True`` (or ``fixtures=("sshd",)``) asks for a fixture from
``FIXTURES``; what it yields reaches every snippet as the dict ``fixture``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import selectors
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INTERPRETERS = ("tether", "peers")


class Skip(Exception):
    """A variant or case cannot run here; the message is the reason shown."""


# -- what a case is -----------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    """One way of doing the case's work.

    ``setup`` runs once (imports, building command objects); ``stmt`` is timed;
    ``teardown`` runs at the end. ``requires`` names the peer distributions
    (as in requirements-peers.txt) that must have installed.
    """

    name: str
    interpreter: str
    setup: str
    stmt: str
    teardown: str = ""
    requires: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.interpreter not in INTERPRETERS:
            raise ValueError(f"variant {self.name!r}: interpreter must be one of {INTERPRETERS}")


@dataclass(frozen=True)
class GoalResult:
    goal: str
    status: str  # "PASS" | "MISS" | "N/A"
    detail: str
    label: str = ""  # short form for the summary line


@dataclass(frozen=True)
class NoSlowerThan:
    """The reference variant's median time is at most ``max_ratio`` x the peer's."""

    peer: str
    max_ratio: float = 1.0

    def evaluate(self, result: CaseResult) -> GoalResult:
        name = f"{result.name}: {result.reference} no slower than {self.peer} (ratio <= {self.max_ratio:g})"
        label = f"{result.name} vs {self.peer}"
        ref, peer = result.variant(result.reference), result.variant(self.peer)
        for v, who in ((ref, result.reference), (peer, self.peer)):
            if v is None or v.status != "ok":
                return GoalResult(name, "N/A", f"{who} {'missing' if v is None else v.status}", label)
        assert ref is not None and peer is not None
        ratio = ref.stats["median"] / peer.stats["median"]
        low, high = ratio_interval(ref.times, peer.times)
        noise = " (within noise)" if low <= self.max_ratio < high else ""
        detail = f"ratio {ratio:.2f}, 95% interval {low:.2f}-{high:.2f}{noise}"
        return GoalResult(name, "PASS" if ratio <= self.max_ratio else "MISS", detail, label)


@dataclass(frozen=True)
class MedianBelow:
    """The variant's median time per operation is under ``seconds`` (an absolute goal).

    ``stat="max"`` asks it of every sample instead (a bound on the slowest).
    """

    seconds: float
    variant: str = "tether"
    what: str = ""  # how to say it, e.g. ">= 500 MB/s"
    stat: str = "median"

    def evaluate(self, result: CaseResult) -> GoalResult:
        said = self.what or f"{self.stat} < {fmt_time(self.seconds)}"
        name = f"{result.name}: {self.variant} {said}"
        label = f"{result.name} {said}"
        v = result.variant(self.variant)
        if v is None or v.status != "ok":
            return GoalResult(name, "N/A", f"{self.variant} {'missing' if v is None else v.status}", label)
        value = v.stats[self.stat]
        return GoalResult(name, "PASS" if value < self.seconds else "MISS", f"{self.stat} {fmt_time(value)}", label)


@dataclass(frozen=True)
class PeakRssBelow:
    """The variant's worker (and the children it reaped) peaked under ``mb`` MB."""

    mb: float
    variant: str = "tether"

    def evaluate(self, result: CaseResult) -> GoalResult:
        name = f"{result.name}: {self.variant} peak RSS < {self.mb:g} MB"
        label = f"{result.name} RSS < {self.mb:g} MB"
        v = result.variant(self.variant)
        if v is None or v.status != "ok" or v.peak_rss_kb is None:
            return GoalResult(name, "N/A", f"{self.variant} {'missing' if v is None else v.status}", label)
        mb = v.peak_rss_kb / 1024
        return GoalResult(name, "PASS" if mb < self.mb else "MISS", f"{mb:.1f} MB", label)


@dataclass(frozen=True)
class Case:
    """A measurement, its variants and its goals.

    ``samples`` timed samples per variant, each ``number`` executions of the
    statement, after ``warmup`` untimed ones; sampling stops early once
    ``budget`` seconds have passed (at least 3 samples are kept). The first
    tether variant is the reference unless ``reference`` names another.
    ``needs_sshd``/``fixtures`` name entries of ``FIXTURES``: snippets see the
    one fixture's dict as ``fixture`` (with several: ``{name: dict}``).
    """

    name: str
    title: str
    variants: Sequence[Variant]
    goals: Sequence[Any] = ()
    samples: int = 30
    number: int = 1
    warmup: int = 1
    budget: float = 60.0
    timeout: float = 120.0
    needs_sshd: bool = False
    fixtures: tuple[str, ...] = ()
    reference: str | None = None
    bytes_per_op: int = 0  # set for transfer cases: the report then shows MB/s beside the median

    def __post_init__(self) -> None:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"case {self.name!r}: variant names repeat: {names}")
        if self.reference_name not in names:
            raise ValueError(f"case {self.name!r}: no reference variant")

    @property
    def reference_name(self) -> str:
        if self.reference:
            return self.reference
        return next((v.name for v in self.variants if v.interpreter == "tether"), "")

    @property
    def all_fixtures(self) -> tuple[str, ...]:
        return self.fixtures + (("sshd",) if self.needs_sshd and "sshd" not in self.fixtures else ())

    def scaled(self, quick: bool) -> Case:
        """The case as run: ``--quick`` keeps 3 samples and a quarter of the budget."""
        if not quick:
            return self
        return _replace(self, samples=min(self.samples, 3), warmup=min(self.warmup, 1), budget=self.budget / 4)


def _replace(case: Case, **changes: Any) -> Case:
    import dataclasses

    return dataclasses.replace(case, **changes)


# -- fixtures -------------------------------------------------------------------
@contextlib.contextmanager
def sshd_fixture() -> Iterator[dict]:
    """For remote cases: a real OpenSSH sshd on loopback (tether.testing), as a JSON-able dict.

    Snippets read ``fixture["host"]``, ``"port"``, ``"user"``, ``"keyfile"``,
    ``"keyfile_ppk"``, ``"known_hosts"``, ``"ssh_config"`` (alias
    ``tether-test``) and ``"hostkey"`` (the SHA256 fingerprint). Every
    library under test meets the same server, whose commands run in a clean
    environment (no rc files), so the numbers measure the clients.
    """
    try:
        from tether.testing import SshdUnavailable, start_openssh_server
    except ImportError as exc:
        raise Skip(f"tether.testing is not importable: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="tether-bench-sshd-") as directory:
        try:
            server_cm = start_openssh_server(directory)
            server = server_cm.__enter__()
        except SshdUnavailable as exc:
            raise Skip(str(exc)) from None
        try:
            yield {
                "host": server.host, "port": server.port, "user": server.user,
                "keyfile": str(server.client_key),
                "keyfile_ppk": str(server.client_key_ppk) if server.client_key_ppk else None,
                "known_hosts": str(server.known_hosts), "ssh_config": str(server.ssh_config),
                "hostkey": server.host_key_fingerprint,
            }
        finally:
            server_cm.__exit__(None, None, None)


FIXTURES: dict[str, Callable[[], contextlib.AbstractContextManager[dict]]] = {"sshd": sshd_fixture}


# -- the worker process (runs in either interpreter: stdlib only) ---------------
def peak_rss_kb() -> int:
    """Peak RSS (KiB) of this process and of the children it has reaped.

    Not ``ru_maxrss`` of the process itself: Linux carries the parent's
    high-water mark across fork+exec into it, so every worker would report at
    least the harness's size. ``VmHWM`` belongs to this process's own memory
    map; a child's ``ru_maxrss`` is at most max(our size when it started, its own).
    """
    import resource

    own = 0
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                own = int(line.split()[1])
    return max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def worker_main() -> None:
    """Serve one variant over stdin/stdout, one JSON object a line.

    In: a header ``{"setup", "stmt", "teardown", "number", "warmup", "fixture"}``,
    then one line per request (a sample count), then EOF. Out: ``{"ready": ...}``,
    ``{"times": [seconds per execution, ...]}`` per request, and after the
    teardown ``{"peak_rss_kb": ...}``; or ``{"error": traceback}`` at any point.
    The code under test prints to stderr: fd 1 is moved off the protocol pipe.
    """
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    def send(obj: dict) -> None:
        proto.write(json.dumps(obj) + "\n")

    header = json.loads(sys.stdin.readline())
    ns: dict[str, Any] = {"__name__": "__bench__", "fixture": header["fixture"]}
    number = header["number"]
    source = "def __bench(__n, __timer):\n    __t0 = __timer()\n    for __i in range(__n):\n"
    source += textwrap.indent(header["stmt"], " " * 8) + "\n    return __timer() - __t0\n"
    try:
        exec(compile(header["setup"], "<setup>", "exec"), ns)
        exec(compile(source, "<stmt>", "exec"), ns)
        timed = ns["__bench"]
        if header["warmup"]:
            timed(header["warmup"], time.perf_counter)
        send({"ready": True, "rss_kb": peak_rss_kb()})
        for line in iter(sys.stdin.readline, ""):
            send({"times": [timed(number, time.perf_counter) / number for _ in range(int(line))]})
        if header["teardown"]:
            exec(compile(header["teardown"], "<teardown>", "exec"), ns)
    except BaseException:
        send({"error": traceback.format_exc()})
        return
    send({"peak_rss_kb": peak_rss_kb()})


class WorkerError(Exception):
    """The worker failed; the message is the last line of its traceback."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message, detail)
        self.message, self.detail = message, detail

    def __str__(self) -> str:
        return self.message


class Worker:
    """The harness side of one worker process.

    ::

        w = Worker(sys.executable, variant, case, fixture={})
        w.ready()          # setup + warm-up done
        w.sample()         # -> seconds per execution
        w.close()          # -> peak RSS in KiB
    """

    def __init__(self, python: str, variant: Variant, case: Case, fixture: dict) -> None:
        self.timeout = case.timeout
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 -- closed by close()
        self._buffer = b""
        self.proc = subprocess.Popen(
            [python, "-I", __file__, "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        header = {
            "setup": textwrap.dedent(variant.setup),
            "stmt": textwrap.dedent(variant.stmt).strip(),
            "teardown": textwrap.dedent(variant.teardown),
            "number": case.number,
            "warmup": case.warmup,
            "fixture": fixture,
        }
        self._write(json.dumps(header))
        self.setup_rss_kb: int | None = None

    def ready(self) -> None:
        reply = self._read(max(self.timeout, 300.0))
        self.setup_rss_kb = reply.get("rss_kb")

    def sample(self) -> float:
        self._write("1")
        return float(self._read(self.timeout)["times"][0])

    def close(self) -> int | None:
        """End the worker (its teardown runs); return its peak RSS in KiB (None if it failed)."""
        peak = None
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        if self.proc.poll() is None:
            with contextlib.suppress(WorkerError, KeyError):
                peak = int(self._read(30)["peak_rss_kb"])
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        self._stderr.close()
        return peak

    def kill(self) -> None:
        """Kill the worker if it still runs (no teardown, no RSS)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def _write(self, line: str) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise WorkerError("worker exited", self._stderr_tail()) from None

    def _read(self, timeout: float) -> dict:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    self.proc.kill()
                    raise WorkerError(f"timed out after {timeout:g} s")
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise WorkerError("worker exited", self._stderr_tail())
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        reply = json.loads(line)
        if "error" in reply:
            tb = reply["error"].strip()
            raise WorkerError(tb.splitlines()[-1], tb)
        return reply

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-2000:]


# -- statistics -----------------------------------------------------------------
def summarize(times: Sequence[float]) -> dict[str, float]:
    """Median, p90, mean, min, max and stdev of per-execution times (seconds)."""
    ordered = sorted(times)
    p90 = statistics.quantiles(ordered, n=10, method="inclusive")[-1] if len(ordered) > 1 else ordered[0]
    return {
        "n": len(ordered),
        "median": statistics.median(ordered),
        "p90": p90,
        "mean": statistics.fmean(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "stdev": statistics.stdev(ordered) if len(ordered) > 1 else 0.0,
    }


def ratio_interval(ref: Sequence[float], peer: Sequence[float], rounds: int = 1000) -> tuple[float, float]:
    """A 95% bootstrap interval of median(ref) / median(peer): how far noise could move it."""
    import random

    rng = random.Random(20240601)
    ratios = sorted(
        statistics.median(rng.choices(ref, k=len(ref))) / statistics.median(rng.choices(peer, k=len(peer)))
        for _ in range(rounds)
    )
    return ratios[int(0.025 * rounds)], ratios[int(0.975 * rounds) - 1]


def interleaved(workers: Sequence[Any], index: int) -> list[Any]:
    """The order of sample ``index``: A B, B A, B A, A B, ... (ABBA cancels drift)."""
    return list(workers) if index % 4 in (0, 3) else list(reversed(workers))


# -- results and the runner -------------------------------------------------------
@dataclass
class VariantResult:
    name: str
    interpreter: str
    status: str = "ok"  # "ok" | "skipped" | "error"
    reason: str = ""
    detail: str = ""
    times: list[float] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)
    ratio: float | None = None  # reference median / this median
    peak_rss_kb: int | None = None
    setup_rss_kb: int | None = None
    version: str = ""


@dataclass
class CaseResult:
    name: str
    title: str
    reference: str
    variants: list[VariantResult]
    goals: list[GoalResult] = field(default_factory=list)
    seconds: float = 0.0

    def variant(self, name: str) -> VariantResult | None:
        return next((v for v in self.variants if v.name == name), None)


def run_case(case: Case, pythons: dict[str, str], unavailable: Callable[[Variant], str | None],
             progress: Callable[[str], None] = lambda _msg: None) -> CaseResult:
    """Run every runnable variant of ``case`` side by side and evaluate its goals.

    ``pythons`` maps an interpreter name to an executable; ``unavailable(v)``
    returns why a variant cannot run here (a peer that failed to install), or None.
    """
    started = time.monotonic()
    results = {v.name: VariantResult(v.name, v.interpreter) for v in case.variants}
    with contextlib.ExitStack() as stack:
        fixture: dict = {}
        try:
            for name in case.all_fixtures:
                fixture[name] = stack.enter_context(FIXTURES[name]())
        except Skip as exc:
            for r in results.values():
                r.status, r.reason = "skipped", str(exc)
            return _finish(case, results, started)
        if len(case.all_fixtures) == 1:
            fixture = fixture[case.all_fixtures[0]]
        workers: dict[str, Worker] = {}
        for v in case.variants:
            why = unavailable(v) or ("" if pythons.get(v.interpreter) else f"no {v.interpreter} interpreter")
            if why:
                results[v.name].status, results[v.name].reason = "skipped", why
                continue
            workers[v.name] = worker = Worker(pythons[v.interpreter], v, case, fixture)
            stack.callback(worker.kill)  # on ^C or a harness bug: no stray workers
        for name, w in list(workers.items()):
            progress(f"{case.name}: setting up {name}")
            _guard(results[name], workers, name, w.ready)
            results[name].setup_rss_kb = w.setup_rss_kb
        for i in range(case.samples):
            for name, w in interleaved(list(workers.items()), i):
                if name in workers:
                    _guard(results[name], workers, name, lambda w=w, r=results[name]: r.times.append(w.sample()))
            progress(f"{case.name}: sample {i + 1}/{case.samples}")
            if time.monotonic() - started > case.budget and i >= 2:
                break
        for name, w in workers.items():
            results[name].peak_rss_kb = w.close()
    return _finish(case, results, started)


def _guard(result: VariantResult, workers: dict[str, Worker], name: str, step: Callable[[], Any]) -> None:
    try:
        step()
    except WorkerError as exc:
        result.status, result.reason, result.detail = "error", exc.message, exc.detail
        result.peak_rss_kb = workers.pop(name).close()


def _finish(case: Case, results: dict[str, VariantResult], started: float) -> CaseResult:
    for r in results.values():
        if r.status == "ok" and r.times:
            r.stats = summarize(r.times)
    ref = results[case.reference_name]
    for r in results.values():
        if ref.stats and r.stats and r is not ref:
            r.ratio = ref.stats["median"] / r.stats["median"]
    out = CaseResult(case.name, case.title, case.reference_name, list(results.values()))
    out.goals = [goal.evaluate(out) for goal in case.goals]
    out.seconds = time.monotonic() - started
    return out


# -- the peers' virtualenv ----------------------------------------------------------
def dist_name(requirement: str) -> str:
    """``"parallel-ssh>=2.12"`` -> ``"parallel-ssh"`` (normalised, PEP 503)."""
    head = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", head.group(1)).lower() if head else requirement.strip()


class PeerEnv:
    """``bench/.venv``: the peers' own virtualenv, built from requirements-peers.txt.

    ::

        peers = PeerEnv(Path("bench/.venv"), Path("bench/requirements-peers.txt"),
                        Path("bench/requirements-peers.lock"))   # pins for every package
        peers.ensure(console)              # create it / install what is new, one package at a time
        peers.why_missing(("plumbum",))    # None, or "plumbum failed to install: ..."

    What installed (and what failed, and why) is kept in ``tether-peers.json``
    in the venv, so later runs start at once; a failed package is not retried
    until ``--reinstall-peers`` rebuilds the venv. Pip's output is kept in
    ``bench/.venv/install-logs/``.
    """

    STATUS = "tether-peers.json"

    def __init__(self, root: Path, requirements: Path, lock: Path | None = None) -> None:
        self.root, self.requirements, self.lock = root, requirements, lock
        self.python = root / "bin" / "python"
        self.status: dict[str, dict] = {}
        self.problem = ""

    def lines(self) -> list[str]:
        """The requirement lines, each with its locked version when a lock is used (a new pin reinstalls)."""
        text = self.requirements.read_text()
        lines = [ln.split("#", 1)[0].strip() for ln in text.splitlines() if ln.split("#", 1)[0].strip()]
        pins = self._pins()
        return [f"{ln} (locked {pins[dist_name(ln)]})" if dist_name(ln) in pins else ln for ln in lines]

    def _pins(self) -> dict[str, str]:
        if self.lock is None or not self.lock.exists():
            return {}
        found = (re.match(r"([A-Za-z0-9._-]+)==(\S+)", ln) for ln in self.lock.read_text().splitlines())
        return {dist_name(m.group(1)): m.group(2) for m in found if m}

    def ensure(self, console: Any, reinstall: bool = False) -> None:
        if reinstall and self.root.exists():
            shutil.rmtree(self.root)
        if not self.python.exists():
            console.print(f"[bold]Creating the peers' virtualenv {self.root}[/] (first run only)")
            made = subprocess.run([sys.executable, "-m", "venv", str(self.root)], capture_output=True, text=True)
            if made.returncode:
                self.problem = f"could not create {self.root}: {(made.stderr or made.stdout).strip()[-300:]}"
                console.print(f"[red]{self.problem}[/]: every peer benchmark will be skipped")
                return
        status_file = self.root / self.STATUS
        old = json.loads(status_file.read_text()) if status_file.exists() else {}
        lines = self.lines()
        self.status = {dist_name(ln): old[dist_name(ln)] for ln in lines
                       if old.get(dist_name(ln), {}).get("line") == ln}
        todo = [ln for ln in lines if dist_name(ln) not in self.status]
        logs = self.root / "install-logs"
        logs.mkdir(exist_ok=True)
        for i, line in enumerate(todo, 1):
            self.status[dist_name(line)] = self._install(console, line, f"[{i}/{len(todo)}]", logs)
            status_file.write_text(json.dumps(self.status, indent=1))
        for name, st in self.status.items():
            if not st["ok"]:
                console.print(f"[yellow]peer {name} is not installed[/] ({st['error']}); its benchmarks are skipped")

    def _install(self, console: Any, line: str, step: str, logs: Path) -> dict:
        name = dist_name(line)
        log = logs / f"{name}.log"
        console.print(f"{step} installing {line} into {self.root} ...")
        started = time.monotonic()
        requirement = line.split(" (locked ", 1)[0]
        constraints = ["-c", str(self.lock)] if self.lock is not None and self.lock.exists() else []
        cmd = [str(self.python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
               "--progress-bar", "off", *constraints, requirement]
        with console.status(f"{step} pip install {line}"), open(log, "w") as out:
            code = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        took = time.monotonic() - started
        if code:
            errors = [ln for ln in log.read_text().splitlines() if ln.strip()]
            why = next((ln for ln in reversed(errors) if "error" in ln.lower()), errors[-1] if errors else "")
            console.print(f"{step} [red]FAILED[/] {line} after {took:.0f} s: {why.strip()} (log: {log})")
            return {"line": line, "ok": False, "version": "", "error": f"pip failed: {why.strip()[:200]}"}
        version = self._version(name)
        console.print(f"{step} [green]ok[/] {name} {version} ({took:.0f} s)")
        return {"line": line, "ok": True, "version": version, "error": ""}

    def _version(self, name: str) -> str:
        probe = "import sys, importlib.metadata as m; print(m.version(sys.argv[1]))"
        got = subprocess.run([str(self.python), "-c", probe, name], capture_output=True, text=True)
        return got.stdout.strip()

    def why_missing(self, requires: Sequence[str]) -> str | None:
        if self.problem:
            return self.problem
        for req in requires:
            st = self.status.get(dist_name(req))
            if st is None:
                return f"{req} is not in {self.requirements.name}"
            if not st["ok"]:
                return f"{req} failed to install ({st['error']})"
        return None


# -- the report ----------------------------------------------------------------------
def fmt_time(seconds: float) -> str:
    """``0.00123`` -> ``"1.23 ms"``."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _rate(size: int, seconds: float) -> str:
    return f" ({size / seconds / 1e6:.0f} MB/s)" if size and seconds > 0 else ""


def print_report(console: Any, results: Sequence[CaseResult], cases: dict[str, Case]) -> None:
    """The table (case, variant, median, p90, tether/peer, peak RSS, n), its notes, the goals."""
    from rich.table import Table

    table = Table(title="tether vs peers: time per operation (tether/peer < 1: tether is faster)")
    table.add_column("case", no_wrap=True)
    table.add_column("variant", no_wrap=True)
    for col in ("median", "p90", "tether/peer", "peak RSS", "n"):
        table.add_column(col, justify="right", no_wrap=True)
    notes: list[str] = []
    for result in results:
        goal_peers = {g.peer for g in cases[result.name].goals if isinstance(g, NoSlowerThan)}
        for i, v in enumerate(result.variants):
            label = f"{v.name} [dim]{v.version}[/]" if v.version else v.name
            rss = f"{v.peak_rss_kb / 1024:.1f} MB" if v.peak_rss_kb else ""
            cells = [result.name if i == 0 else "", label]
            if v.status != "ok" or not v.stats:
                notes.append(f"{result.name} / {v.name}: {v.status}: {v.reason}")
                tag = "skipped" if v.status == "skipped" else "[red]error[/]"
                table.add_row(*cells, f"{tag} [{len(notes)}]", "", "", rss, "")
                continue
            if v.name == result.reference:
                ratio = "[dim]ref[/]"
            elif v.ratio is None:
                ratio = ""
            else:
                colour = ("green" if v.ratio <= 1 else "red") if v.name in goal_peers else "dim"
                ratio = f"[{colour}]{v.ratio:.2f}[/]"
            median = fmt_time(v.stats["median"]) + _rate(cases[result.name].bytes_per_op, v.stats["median"])
            table.add_row(*cells, median, fmt_time(v.stats["p90"]),
                          ratio, rss, str(int(v.stats["n"])))
        table.add_section()
    console.print(table)
    for n, note in enumerate(notes, 1):
        console.print(f"  [{n}] {note}", highlight=False)
    goals = [g for r in results for g in r.goals]
    colours = {"PASS": "green", "MISS": "red", "N/A": "yellow"}
    for g in goals:
        console.print(f"  [{colours[g.status]}]{g.status:4}[/] {g.goal}: {g.detail}", highlight=False)
    summary = " · ".join(f"[{colours[g.status]}]{g.status}[/] {g.label or g.goal}" for g in goals)
    console.print(f"[bold]goals:[/] {summary or 'none selected'}", highlight=False)


def results_json(results: Sequence[CaseResult], meta: dict) -> dict:
    """Everything measured, for ``bench/results/latest.json``."""
    import dataclasses

    return {**meta, "cases": [dataclasses.asdict(r) for r in results]}


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    worker_main()
