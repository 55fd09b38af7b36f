"""Remote Python on one real sshd: tether's agent against execnet, remoto, mitogen and rpyc.

Every variant calls the same tiny module (``echo``, ``nap``) on the same
OpenSSH server (``harness.sshd_fixture``), each peer as its documentation
says to: execnet's channel, remoto's ``import_module`` (legacy model, as
its ssh connections use), mitogen's ``context.call``, rpyc's zero-deploy
classic connection. Connections are made in ``setup`` except in the
bootstrap cases, which time a start from nothing. The peers keep their
defaults (mitogen and execnet compress on the wire).
"""

from __future__ import annotations

from harness import Case, MedianBelow, NoSlowerThan, Variant

_ECHO = "import time\ndef echo(x):\n    return x\ndef nap(t):\n    time.sleep(t)\n"
_THREADS = (
    "import threading\n"
    "def run8(fn):\n"
    "    ts = [threading.Thread(target=fn) for _ in range(8)]\n"
    "    for t in ts: t.start()\n"
    "    for t in ts: t.join()\n"
)
_TETHER_KW = "user=fixture['user'], port=fixture['port'], keyfile=fixture['keyfile'], known_hosts=fixture['known_hosts']"

# a module file the peers can import (mitogen ships modules by import; remoto needs the footer)
_MODULE_FILE = f"""
import os, sys, tempfile, importlib
_dir = tempfile.mkdtemp(prefix='tether-bench-agent-')
with open(os.path.join(_dir, 'tether_bench_echo.py'), 'w') as f:
    f.write({_ECHO!r} + "\\nif __name__ == '__channelexec__':\\n    for item in channel:\\n        channel.send(eval(item))\\n")
sys.path.insert(0, _dir)
import tether_bench_echo
"""


def _tether(cls: str, stmt: str, extra: str = "", name: str | None = None) -> Variant:
    setup = (
        f"from tether import {cls}\nrem = {cls}(fixture['host'], {_TETHER_KW})\n"
        f"mod = rem.import_module({_ECHO!r})\n{extra}"
    )
    return Variant(name or f"tether {cls}", "tether", setup, stmt, "rem.close()")


_EXECNET = (
    "import execnet\n"
    "gw = execnet.makegateway(f\"ssh_config={fixture['ssh_config']}//ssh=tether-test//python=python3\")\n"
    "ch = gw.remote_exec('for x in channel:\\n    channel.send(x)\\n')\n"
    "def call(x):\n    ch.send(x)\n    return ch.receive()\n"
)
_REMOTO = _MODULE_FILE + (
    "import remoto\n"
    "conn = remoto.Connection('tether-test', ssh_options=f\"-F {fixture['ssh_config']}\", interpreter='python3',"
    " use_ssh=True)\n"
    "mod = conn.import_module(tether_bench_echo)\n"
)
_MITOGEN = _MODULE_FILE + (
    "import mitogen.master\n"
    "broker = mitogen.master.Broker()\nrouter = mitogen.master.Router(broker)\n"
    "ctx = router.ssh(hostname='tether-test', ssh_args=['-F', fixture['ssh_config']], python_path=['python3'])\n"
    "echo = tether_bench_echo.echo\n"
)
_RPYC = (
    "from plumbum import SshMachine\nfrom rpyc.utils.zerodeploy import DeployedServer\n"
    "mach = SshMachine('tether-test', ssh_opts=['-F', fixture['ssh_config']], scp_opts=['-F', fixture['ssh_config']])\n"
    "server = DeployedServer(mach, python_executable='python3')\nconn = server.classic_connect()\n"
    f"conn.execute({_ECHO!r})\necho = conn.namespace['echo']\n"
)
_REMOTO_END = "conn.exit()"
_MITOGEN_END = "broker.shutdown(); broker.join()"
_RPYC_END = "conn.close(); server.close(); mach.close()"


def _peers(execnet: str, remoto: str | None, mitogen: str | None, rpyc: str | None) -> list[Variant]:
    out = [Variant("execnet", "peers", _EXECNET, execnet, "gw.exit()", requires=("execnet",))]
    if remoto:
        out.append(Variant("remoto", "peers", _REMOTO, remoto, _REMOTO_END, requires=("remoto",)))
    if mitogen:
        out.append(Variant("mitogen", "peers", _MITOGEN, mitogen, _MITOGEN_END, requires=("mitogen",)))
    if rpyc:
        out.append(Variant("rpyc", "peers", _RPYC, rpyc, _RPYC_END, requires=("rpyc", "plumbum")))
    return out


_BYTES = "data = b'x' * 10_000_000\n"
_INTS = "ints = list(range(100_000))\n"

CASES = [
    Case(
        name="agent.bootstrap",
        title="from nothing: connect, start remote Python, one call, close",
        variants=[
            Variant("tether NativeSshMachine", "tether", "from tether import NativeSshMachine",
                    f"with NativeSshMachine(fixture['host'], {_TETHER_KW}) as rem:\n"
                    f"    assert rem.import_module({_ECHO!r}).echo(1) == 1"),
            Variant("ssh host python3 -c pass (floor)", "tether", "import subprocess",
                    "subprocess.run(['ssh', '-F', fixture['ssh_config'], 'tether-test', 'python3', '-c', 'pass'],"
                    " check=True)"),
            Variant("execnet", "peers", "import execnet",
                    "gw = execnet.makegateway(f\"ssh_config={fixture['ssh_config']}//ssh=tether-test//python=python3\")\n"
                    "assert gw.remote_exec('channel.send(1)').receive() == 1\ngw.exit()", requires=("execnet",)),
            Variant("mitogen", "peers", _MODULE_FILE + "import mitogen.master",
                    "broker = mitogen.master.Broker(); router = mitogen.master.Router(broker)\n"
                    "ctx = router.ssh(hostname='tether-test', ssh_args=['-F', fixture['ssh_config']], python_path=['python3'])\n"
                    "assert ctx.call(tether_bench_echo.echo, 1) == 1\nbroker.shutdown(); broker.join()",
                    requires=("mitogen",)),
        ],
        goals=[NoSlowerThan("ssh host python3 -c pass (floor)", 1.05), NoSlowerThan("execnet"), NoSlowerThan("mitogen")],
        samples=12, number=1, warmup=1, budget=60, needs_sshd=True,
    ),
    Case(
        name="agent.start-on-open-connection",
        title="on an open connection: start remote Python + one call, vs running python3 -c pass there",
        variants=[
            Variant("tether agent (NativeSshMachine)", "tether",
                    f"from tether import NativeSshMachine\nfrom tether.agent import Agent, AsyncAgent\n"
                    f"rem = NativeSshMachine(fixture['host'], {_TETHER_KW})",
                    "a = Agent(AsyncAgent(rem.aio)); a.start()\n"
                    f"assert a.import_module({_ECHO!r}).echo(1) == 1\na.close()",
                    "rem.close()"),
            Variant("rem['python3']('-c', 'pass') (floor)", "tether",
                    f"from tether import NativeSshMachine\nrem = NativeSshMachine(fixture['host'], {_TETHER_KW})\n"
                    "py = rem['python3']['-c', 'pass']", "py()", "rem.close()"),
        ],
        goals=[NoSlowerThan("rem['python3']('-c', 'pass') (floor)", 1.05)],
        samples=20, number=1, warmup=1, budget=40, needs_sshd=True,
    ),
    Case(
        name="agent.call",
        title="one call on a started agent: echo(1)",
        variants=[
            _tether("NativeSshMachine", "mod.echo(1)"),
            _tether("SshMachine", "mod.echo(1)"),
            *_peers("call(1)", "mod.echo(1)", "ctx.call(echo, 1)", "echo(1)"),
        ],
        goals=[MedianBelow(0.00025, "tether SshMachine", "call < 250 us"),
               NoSlowerThan("execnet"), NoSlowerThan("remoto"), NoSlowerThan("mitogen"), NoSlowerThan("rpyc")],
        reference="tether SshMachine",
        samples=30, number=100, warmup=50, budget=60, needs_sshd=True,
    ),
    Case(
        name="agent.bytes-10MB",
        title="10 MB of bytes there and back: echo(data)",
        variants=[
            _tether("NativeSshMachine", "assert len(mod.echo(data)) == 10_000_000", _BYTES),
            _tether("SshMachine", "assert len(mod.echo(data)) == 10_000_000", _BYTES),
            Variant("execnet", "peers", _EXECNET + _BYTES, "assert len(call(data)) == 10_000_000", "gw.exit()",
                    requires=("execnet",)),
            Variant("remoto", "peers", _REMOTO + _BYTES, "assert len(mod.echo(data)) == 10_000_000", _REMOTO_END,
                    requires=("remoto",)),
            Variant("mitogen", "peers", _MITOGEN + _BYTES, "assert len(ctx.call(echo, data)) == 10_000_000",
                    _MITOGEN_END, requires=("mitogen",)),
            Variant("rpyc", "peers", _RPYC + _BYTES, "assert len(echo(data)) == 10_000_000", _RPYC_END,
                    requires=("rpyc", "plumbum")),
        ],
        goals=[MedianBelow(0.15, "tether SshMachine", "10 MB round trip < 0.15 s"),
               NoSlowerThan("execnet"), NoSlowerThan("mitogen"), NoSlowerThan("rpyc")],
        reference="tether SshMachine",
        samples=7, number=1, warmup=1, budget=60, timeout=300, needs_sshd=True,
    ),
    Case(
        name="agent.ints-100k",
        title="a list of 100k ints there and back: echo(ints)",
        variants=[
            _tether("NativeSshMachine", "assert len(mod.echo(ints)) == 100_000", _INTS),
            _tether("SshMachine", "assert len(mod.echo(ints)) == 100_000", _INTS),
            Variant("execnet", "peers", _EXECNET + _INTS, "assert len(call(ints)) == 100_000", "gw.exit()",
                    requires=("execnet",)),
            Variant("mitogen", "peers", _MITOGEN + _INTS, "assert len(ctx.call(echo, ints)) == 100_000",
                    _MITOGEN_END, requires=("mitogen",)),
        ],
        goals=[MedianBelow(0.030, "tether SshMachine", "100k ints < 30 ms"),
               NoSlowerThan("execnet"), NoSlowerThan("mitogen")],
        reference="tether SshMachine",
        samples=15, number=1, warmup=1, budget=40, needs_sshd=True,
    ),
    Case(
        name="agent.pipelined-1000",
        title="1000 calls in flight at once (time per 1000)",
        variants=[
            _tether("SshMachine",
                    "portal.call(batch)",
                    "import asyncio\nfrom tether._portal import portal\n"
                    f"amod = portal.call(rem.aio.import_module, {_ECHO!r})\n"
                    "async def batch():\n    await asyncio.gather(*[amod.echo(i) for i in range(1000)])\n"),
            _tether("SshMachine",
                    "for i in range(1000): ch.send(i)\nfor i in range(1000): ch.receive()",
                    "ch = rem.remote_exec('for x in channel:\\n    channel.send(x)\\n')\n",
                    name="tether SshMachine channel"),
            _tether("NativeSshMachine",
                    "portal.call(batch)",
                    "import asyncio\nfrom tether._portal import portal\n"
                    f"amod = portal.call(rem.aio.import_module, {_ECHO!r})\n"
                    "async def batch():\n    await asyncio.gather(*[amod.echo(i) for i in range(1000)])\n"),
            _tether("NativeSshMachine",
                    "for i in range(1000): ch.send(i)\nfor i in range(1000): ch.receive()",
                    "ch = rem.remote_exec('for x in channel:\\n    channel.send(x)\\n')\n",
                    name="tether NativeSshMachine channel"),
            *_peers("for i in range(1000): ch.send(i)\nfor i in range(1000): ch.receive()", None,
                    "calls = [ctx.call_async(echo, i) for i in range(1000)]\nfor c in calls: c.get().unpickle()",
                    "import rpyc\nsent = [rpyc.async_(echo)(i) for i in range(1000)]\nfor r in sent: r.value"),
        ],
        goals=[MedianBelow(0.020, "tether SshMachine", ">= 50k calls/s (1000 under 20 ms)"),
               NoSlowerThan("execnet"), NoSlowerThan("mitogen"), NoSlowerThan("rpyc")],
        reference="tether SshMachine",
        samples=15, number=1, warmup=2, budget=60, needs_sshd=True,
    ),
    Case(
        name="agent.threads-8",
        title="8 threads each calling nap(0.05) at once (8 x 50 ms of remote work)",
        variants=[
            _tether("SshMachine", "run8(lambda: mod.nap(0.05))", _THREADS),
            _tether("NativeSshMachine", "run8(lambda: mod.nap(0.05))", _THREADS),
            Variant("execnet", "peers", _EXECNET + _THREADS + (
                "def nap():\n"
                "    c = gw.remote_exec('import time; time.sleep(channel.receive()); channel.send(1)')\n"
                "    c.send(0.05); c.receive()\n"), "run8(nap)", "gw.exit()", requires=("execnet",)),
            Variant("mitogen", "peers", _MITOGEN + _THREADS, "run8(lambda: ctx.call(tether_bench_echo.nap, 0.05))",
                    _MITOGEN_END, requires=("mitogen",)),
        ],
        goals=[MedianBelow(0.05 * 8 / 6, "tether SshMachine", ">= 6 calls at once (under 67 ms)"),
               NoSlowerThan("execnet"), NoSlowerThan("mitogen")],
        reference="tether SshMachine",
        samples=15, number=1, warmup=1, budget=40, needs_sshd=True,
    ),
]
