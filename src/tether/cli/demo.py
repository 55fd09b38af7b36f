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
    from .. import local

    ssh_argv = server.ssh_argv()
    ssh = local[ssh_argv[0]][ssh_argv[1:]]
    tour.step(f"A loopback SSH server ({server.kind}) with throwaway keys", "server",
              lambda: f"{server.user}@{server.host}:{server.port}")
    tour.step("Run a command on it through the system ssh client", 'ssh["uname", "-a"]()',
              lambda: ssh["uname", "-a"]())
    tricky = "it's $HOME `id` \\ \"q\""
    tour.step("Nested commands are quoted exactly once per level",
              f'ssh[local["echo"][{tricky!r}]]()', lambda: ssh[local["echo"][tricky]]())
    tour.step("Remote exit codes come back", 'ssh[sh["-c", "exit 3"]].run(retcode=None)',
              lambda: ssh[local["sh"]["-c", "exit 3"]].run(retcode=None))


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
        try:
            with _start_server(server_kind, tmp) as server:
                _remote_steps(tour, server)
        except Exception as exc:
            tour.failed += 1
            console.print(f"[red]could not start the {server_kind} SSH server: {exc}[/]")
    colour = "green" if not tour.failed else "red"
    console.print(f"\n[bold {colour}]{tour.steps - tour.failed}/{tour.steps} steps succeeded.[/]")
    return 1 if tour.failed else 0
