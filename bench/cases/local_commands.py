"""Local commands: tether's ``local`` against plumbum's, and the bare OS floor.

The snippets are the same text for both libraries (tether keeps plumbum's
vocabulary); :func:`vs_plumbum` makes the pair from one setup and statement::

    vs_plumbum("cmd = local['true']", "cmd()")
    # -> [Variant("tether", "tether", "from tether import local\\n..."),
    #     Variant("plumbum", "peers", "from plumbum import local\\n...", requires=("plumbum",))]

A ``subprocess`` variant shows what the OS itself costs, so a ratio can be
read against the floor as well as against the peer.
"""

from __future__ import annotations

from harness import Case, NoSlowerThan, PeakRssBelow, Variant

GIB = 1 << 30


def vs_plumbum(setup: str, stmt: str, teardown: str = "") -> list[Variant]:
    """The same snippet, once with ``from tether import local``, once with plumbum's."""
    return [
        Variant("tether", "tether", f"from tether import local\n{setup}", stmt, teardown),
        Variant("plumbum", "peers", f"from plumbum import local\n{setup}", stmt, teardown,
                requires=("plumbum",)),
    ]


def floor(setup: str, stmt: str) -> Variant:
    return Variant("subprocess (floor)", "tether", f"import subprocess\n{setup}", stmt)


CASES = [
    Case(
        name="local.true",
        title="local['true']() call latency",
        variants=[
            *vs_plumbum("cmd = local['true']", "cmd()"),
            floor("", "subprocess.run(['true'], check=True)"),
        ],
        goals=[NoSlowerThan("plumbum")],
        samples=200,
        number=10,
        warmup=20,
        budget=60,
    ),
    Case(
        name="local.echo",
        title="local['echo']('hi'), output captured",
        variants=[
            *vs_plumbum("cmd = local['echo']\nassert cmd('hi') == 'hi\\n'", "cmd('hi')"),
            floor("", "subprocess.run(['echo', 'hi'], capture_output=True, check=True).stdout.decode()"),
        ],
        goals=[NoSlowerThan("plumbum")],
        samples=200,
        number=10,
        warmup=20,
        budget=60,
    ),
    Case(
        name="local.pipeline-1GiB",
        title="(head -c 1GiB /dev/zero | wc -c)(): time and peak RSS",
        variants=[
            *vs_plumbum(
                f"pipeline = local['head']['-c', str({GIB}), '/dev/zero'] | local['wc']['-c']\n"
                f"assert int(pipeline()) == {GIB}",
                "pipeline()",
            ),
            floor(
                "def pipeline():\n"
                f"    head = subprocess.Popen(['head', '-c', '{GIB}', '/dev/zero'], stdout=subprocess.PIPE)\n"
                "    out = subprocess.run(['wc', '-c'], stdin=head.stdout, capture_output=True).stdout\n"
                "    head.stdout.close()\n"
                "    head.wait()\n"
                "    return out\n",
                "pipeline()",
            ),
        ],
        goals=[NoSlowerThan("plumbum"), PeakRssBelow(100)],
        samples=31,
        number=1,
        warmup=0,
        budget=150,
        timeout=300,
    ),
    Case(
        name="local.session",
        title="local.session().run('true'), per command",
        variants=vs_plumbum(
            "s = local.session()\nassert s.run('true')[0] == 0", "s.run('true')", "s.close()"
        ),
        goals=[NoSlowerThan("plumbum")],
        samples=200,
        number=20,
        warmup=20,
        budget=60,
    ),
]
