"""Container machines and remoto's process.check: tether against the bare CLI and remoto.

``containers.*`` cases meet one busybox container (``fixture["container"]``,
started by the ``podman`` fixture this module registers, removed at the end).
remoto cannot take part there: its container backends start a Python
interpreter in the container over execnet, and the test image has none. So
remoto is measured where it can run, on this host and over the sshd
fixture, in the ``process.*`` cases.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
from collections.abc import Iterator

from harness import FIXTURES, Case, NoSlowerThan, Skip, Variant


@contextlib.contextmanager
def podman_fixture() -> Iterator[dict]:
    """A running busybox container for the whole run (tether.testing's image and container)."""
    podman = shutil.which("podman")
    if podman is None:
        raise Skip("podman is not installed (make system-deps installs it)")
    try:
        from tether.testing.containers import ensure_busybox_image, running_container
    except ImportError as exc:
        raise Skip(f"tether.testing is not importable: {exc}") from None
    try:
        image = ensure_busybox_image(podman)
    except FileNotFoundError as exc:
        raise Skip(str(exc)) from None
    with running_container(podman, image) as name:
        yield {"container": name, "podman": podman}


FIXTURES.setdefault("podman", podman_fixture)

def podman_box(setup: str, stmt: str, teardown: str = "") -> Variant:
    """tether's PodmanMachine on the fixture's container, as ``box``."""
    opened = "from tether import PodmanMachine\nbox = PodmanMachine(fixture['container'])\n"
    return Variant("tether PodmanMachine", "tether", opened + setup, stmt, teardown + "box.close()")


# the floor: the podman CLI alone, one exec per command
_BARE_EXEC = Variant("podman exec (subprocess)", "tether", "import subprocess",
                     "subprocess.run([fixture['podman'], 'exec', '-i', fixture['container'], 'true'], check=True)")
_LINES = "['sh', '-c', 'i=0; while [ $i -lt 500 ]; do echo \"out $i\"; echo \"err $i\" >&2; i=$((i+1)); done']"


def podman_case(name: str, title: str, variant: Variant, max_ratio: float, number: int) -> Case:
    """``variant`` against the bare ``podman exec``, on the fixture's container."""
    return Case(name=name, title=title, variants=[variant, _BARE_EXEC],
                goals=[NoSlowerThan(_BARE_EXEC.name, max_ratio)],
                samples=20, number=number, warmup=2, budget=50, fixtures=("podman",))


_HOSTNAME = socket.gethostname()


def check_variants(target: str, stmt: str) -> list[Variant]:
    """tether's and remoto's ``process.check`` on a connection to ``target`` (snippet text), running ``stmt``."""
    common = f"from tether.process import check\nconn = Connection({target})"
    return [
        Variant("tether", "tether", "from tether import Connection\n" + common, stmt, "conn.exit()"),
        Variant("remoto", "peers", "import logging\nfrom remoto import Connection\n" + common.replace(
            "tether.process", "remoto.process").replace(")", ", logger=logging.getLogger('bench'))"),
            stmt, "conn.exit()", requires=("remoto",)),
    ]


CASES = [
    podman_case("containers.command", "one command in a running container: box['true']()",
                podman_box("cmd = box['true']", "cmd()"), max_ratio=1.1, number=3),
    podman_case("containers.session", "box.session().run('true'), per command",
                podman_box("s = box.session()", "s.run('true')", "s.close(); "), max_ratio=0.1, number=20),
    Case(
        name="process.check-local",
        title="process.check of 500 stdout + 500 stderr lines, local connection",
        variants=check_variants(repr(_HOSTNAME), f"out, err, rc = check(conn, {_LINES})\nassert len(out) == 500"),
        goals=[NoSlowerThan("remoto")],
        samples=20, number=3, warmup=2, budget=60,
    ),
    Case(
        name="process.check-ssh",
        title="process.check(conn, ['true']) over ssh (the sshd fixture)",
        variants=check_variants("'tether-test', ssh_options='-F ' + fixture['ssh_config']",
                                "assert check(conn, ['true'])[2] == 0"),
        goals=[NoSlowerThan("remoto")],
        samples=20, number=5, warmup=2, budget=60, needs_sshd=True,
    ),
]
