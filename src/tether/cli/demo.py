"""``tether demo``: a guided tour, each step printed with its result.

It starts its own loopback SSH server (the embedded asyncssh one by default,
or OpenSSH's sshd with ``--server openssh``) with throwaway keys, so it needs
no set-up and touches nothing outside a temporary directory. The tour grows
as features land.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.panel import Panel

console = Console(highlight=False)


class Tour:
    def __init__(self) -> None:
        self.steps = 0
        self.failed = 0

    def step(self, title: str, code: str, action: Callable[[], Any]) -> Any:
        self.steps += 1
        console.print(f"\n[bold cyan]{self.steps}. {title}[/]")
        console.print(f"   [dim]>>>[/] {code}")
        started = time.perf_counter()
        try:
            result = action()
        except Exception as exc:  # the tour reports and goes on
            self.failed += 1
            console.print(f"   [red]failed: {type(exc).__name__}: {exc}[/]")
            return None
        elapsed = (time.perf_counter() - started) * 1000
        text = result if isinstance(result, str) else repr(result)
        for line in text.rstrip("\n").splitlines()[:8] or [""]:
            console.print(f"   [green]{line}[/]")
        console.print(f"   [dim]({elapsed:.1f} ms)[/]")
        return result


def _local_steps(tour: Tour) -> None:
    from .. import TF, local
    from ..exceptions import ProcessExecutionError

    ls, grep, sh = local["ls"], local["grep"], local["sh"]
    tour.step("Look a program up on PATH", 'local["ls"]', lambda: repr(ls))
    tour.step("Run it; stdout comes back as str", 'local["echo"]("hello", "it\'s $HOME")',
              lambda: local["echo"]("hello", "it's $HOME"))
    tour.step("Pipelines run with OS pipes, no byte through Python",
              '(local["head"]["-c", 1<<28, "/dev/zero"] | local["wc"]["-c"])()',
              lambda: (local["head"]["-c", 1 << 28, "/dev/zero"] | local["wc"]["-c"])())
    tour.step("The shell line of any command, every word quoted once",
              'str(ls["-l", "my file"] | grep["it\'s"])', lambda: str(ls["-l", "my file"] | grep["it's"]))

    def failing() -> str:
        try:
            (sh["-c", "echo boom >&2; exit 3"] | local["cat"])()
        except ProcessExecutionError as exc:
            return str(exc)
        return "no error?"

    tour.step("A failing stage is named, with its exit code and stderr", "(sh[...] | cat)()", failing)
    tour.step("Modifiers: TF turns an exit code into a bool", 'local["false"] & TF', lambda: local["false"] & TF)

    def session() -> str:
        with local.session() as s:
            s.run("cd /tmp")
            t0 = time.perf_counter()
            for _ in range(200):
                s.run("true")
            per = (time.perf_counter() - t0) / 200 * 1000
            return f"{s.run('pwd')!r}  ({per:.3f} ms per command)"

    tour.step("A persistent shell keeps state between commands", 's = local.session(); s.run("cd /tmp"); s.run("pwd")', session)


def _remote_steps(tour: Tour, server: Any) -> None:
    from .. import NativeSshMachine, SshMachine, local

    tour.step(f"A loopback SSH server ({server.kind}) with throwaway keys", "server",
              lambda: f"{server.user}@{server.host}:{server.port}")
    reach = dict(user=server.user, port=server.port, keyfile=server.client_key, known_hosts=server.known_hosts)
    machines: dict[str, Any] = {}

    def open_native() -> str:
        machines["native"] = rem = NativeSshMachine(server.host, **reach)
        return repr(rem)

    tour.step("Connect in-process (asyncssh), host key checked against known_hosts",
              'rem = NativeSshMachine("127.0.0.1", user=..., keyfile=..., known_hosts=...)', open_native)
    tour.step("Remote commands look like local ones", 'rem["uname"]("-s")', lambda: machines["native"]["uname"]("-s"))

    def remote_pipeline() -> str:
        rem = machines["native"]
        return (rem["head"]["-c", "100000000", "/dev/zero"] | rem["wc"]["-c"])().strip() + " bytes, counted remotely"

    tour.step("A remote pipeline runs remotely: 100 MB never cross the connection",
              '(rem["head"]["-c", "100000000", "/dev/zero"] | rem["wc"]["-c"])()', remote_pipeline)
    tour.step("Remote into local: streams through an OS pipe",
              '(rem["printf"]["a\\nb\\n"] | local["grep"]["b"])()',
              lambda: (machines["native"]["printf"]["a\nb\n"] | local["grep"]["b"])())
    tricky = "it's $HOME `id` \\ \"q\""
    tour.step("Arguments arrive byte for byte, nested shells included",
              f'rem["sh"]["-c", rem["printf"]["%s", {tricky!r}]]()',
              lambda: machines["native"]["sh"]["-c", machines["native"]["printf"]["%s", tricky]]())

    def cwd_env() -> str:
        rem = machines["native"]
        with rem.cwd("/tmp"), rem.env(GREETING="hello"):
            return rem["sh"]("-c", 'echo "$GREETING from $(pwd)"')

    tour.step("cwd and env apply to every command", 'with rem.cwd("/tmp"), rem.env(GREETING="hello"): ...', cwd_env)

    def timeout_kills() -> str:
        rem = machines["native"]
        try:
            rem["sh"]["-c", "exec sleep 300"](timeout=0.5)
        except Exception as exc:  # the demo shows what happened, whatever it was
            left = rem.pgrep("sleep 300")
            return f"{type(exc).__name__}; remote sleep left running: {len(left)}"
        return "no timeout?"

    tour.step("A timeout ends the REMOTE process, not just the wait", 'rem["sh"]["-c", "exec sleep 300"](timeout=0.5)',
              timeout_kills)

    def via_openssh() -> str:
        with SshMachine(server.host, **reach) as rem, rem.session() as s:
            s.run("cd /tmp")
            t0 = time.perf_counter()
            for _ in range(100):
                s.run("true")
            per = (time.perf_counter() - t0) / 100 * 1000
            return f"{s.run('pwd')!r}  ({per:.3f} ms per command)"

    tour.step("SshMachine: the system ssh over one ControlMaster; a remote session",
              'with SshMachine(...) as rem, rem.session() as s: s.run("cd /tmp"); s.run("pwd")', via_openssh)
    tour.step("Closing ends the connection and whatever still runs there",
              "rem.close()", lambda: (machines.pop("native").close(), "closed")[1])


def _start_server(kind: str, tmp: str) -> Any:
    if kind == "openssh":
        from ..testing.sshd import start_openssh_server

        return start_openssh_server(tmp)
    from ..testing.embedded import start_embedded_server

    return start_embedded_server(tmp)


def run_demo(server_kind: str = "embedded") -> int:
    console.print(Panel.fit("[bold]tether[/] — a guided tour. Every step runs for real.", border_style="cyan"))
    tour = Tour()
    _local_steps(tour)
    with tempfile.TemporaryDirectory(prefix="tether-demo-") as tmp:
        console.print("\n[bold]Starting a loopback SSH server for the remote part...[/]")
        toured = False
        try:
            with _start_server(server_kind, tmp) as server:
                _remote_steps(tour, server)
                toured = True
        except Exception as exc:  # name the phase that failed: starting, or stopping after the tour
            tour.failed += 1
            what = "did not stop cleanly" if toured else "could not start"
            console.print(f"[red]the {server_kind} SSH server {what}: {type(exc).__name__}: {exc}[/]")
    colour = "green" if not tour.failed else "red"
    console.print(f"\n[bold {colour}]{tour.steps - tour.failed}/{tour.steps} steps succeeded.[/]")
    return 1 if tour.failed else 0
