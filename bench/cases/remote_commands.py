"""Remote commands on one real sshd: tether's machines against the clients they replace.

Every variant meets the same OpenSSH server (``fixture``, see
``harness.sshd_fixture``), whose commands run in a clean environment.
Snippets build their connection in ``setup`` (outside the timing) except
for the connect case, which times connect + first command + close.

Every variant runs the same program: ``rem["true"]`` resolves to the binary
(as plumbum's does), so the peers run it by path too (``TRUE``), not the
shell builtin, which would spare them an exec (about 0.5 ms here).
"""

from __future__ import annotations

from harness import Case, MedianBelow, NoSlowerThan, Variant

# connection keyword arguments, as snippet text (fixture is the server's dict)
_TETHER_KW = "user=fixture['user'], port=fixture['port'], keyfile=fixture['keyfile'], known_hosts=fixture['known_hosts']"
_ASYNCSSH_KW = (
    "fixture['host'], port=fixture['port'], username=fixture['user'], "
    "client_keys=[fixture['keyfile']], known_hosts=fixture['known_hosts']"
)

_TRUE = "import shutil\nTRUE = shutil.which('true')\n"

_PARAMIKO_SETUP = _TRUE + """
import paramiko
def paramiko_client():
    c = paramiko.SSHClient()
    c.load_host_keys(fixture['known_hosts'])
    c.set_missing_host_key_policy(paramiko.RejectPolicy())
    c.connect(fixture['host'], port=fixture['port'], username=fixture['user'], key_filename=fixture['keyfile'],
              look_for_keys=False, allow_agent=False)
    return c
def paramiko_run(c, cmd):
    _, out, err = c.exec_command(cmd)
    data = out.read(); err.read()
    assert out.channel.recv_exit_status() == 0
    return data
"""

_ASYNCSSH_SETUP = _TRUE + f"""
import asyncio, asyncssh
loop = asyncio.new_event_loop()
def connect():
    return loop.run_until_complete(asyncssh.connect({_ASYNCSSH_KW}))
"""

_PLUMBUM_SETUP = """
from plumbum import SshMachine as PlumbumSsh
def plumbum_machine():
    return PlumbumSsh(fixture['host'], user=fixture['user'], port=fixture['port'], keyfile=fixture['keyfile'],
                      ssh_opts=['-o', 'UserKnownHostsFile=' + fixture['known_hosts'], '-o', 'BatchMode=yes'])
"""

_CONTROL_MASTER_SETUP = _TRUE + """
import os, subprocess, tempfile, time
sock = os.path.join(tempfile.mkdtemp(), 'm')
opts = ['-F', fixture['ssh_config']]
master = subprocess.Popen(['ssh', *opts, '-M', '-S', sock, '-N', 'tether-test'])
while not os.path.exists(sock):
    time.sleep(0.01)
client = ['ssh', *opts, '-S', sock, 'tether-test']
"""


# -- remote.aio-gather-1000: 1,000 concurrent commands through tether.aio on one connection --
_FANOUT = 1000
# tether keeps max_sessions - 2 channels open at once (one is the control shell's, one is kept
# spare while sshd frees a closed session: machines/remote.py, transports/slots.py): 8 of sshd's
# default MaxSessions 10. The tether variants pass max_sessions so the peer's limit follows it.
_MAX_SESSIONS = 10
_CHANNELS = _MAX_SESSIONS - 2
# a short gather (more commands than channels, so some wait) in setup warms the code paths:
# the case's warmup would be another whole 1,000, and each takes seconds
_WARM = 2 * _CHANNELS

_AIO_SETUP = """
import asyncio
import tether.aio
loop = asyncio.new_event_loop()
async def fanout(n):
    await asyncio.gather(*(rem['true']() for _ in range(n)))
"""

# asyncssh alone opens a channel per run() at once, and sshd refuses those past its MaxSessions
# (the fixture's sshd_config sets MaxSessions 100; stock sshd has 10) with "open failed"; so the
# fair peer waits for one of as many channels as tether keeps: an asyncio.Semaphore of tether's
# size (_CHANNELS = 8), not asyncssh's unlimited fan-out.
# (tether.aio's rem['true'] does no lookup, so its remote shell runs the builtin; the peer runs
# TRUE by path as everywhere in this module: for asyncssh that measured the same as 'true'.)
_ASYNCSSH_FANOUT_SETUP = _ASYNCSSH_SETUP + f"""
c = connect()
channels = asyncio.Semaphore({_CHANNELS})
async def one():
    async with channels:
        await c.run(TRUE, check=True)
async def fanout(n):
    await asyncio.gather(*(one() for _ in range(n)))
loop.run_until_complete(fanout({_WARM}))
"""


def tether_aio_machine(cls: str) -> Variant:
    """``tether.aio.<cls>`` connected in setup on its own loop; the statement gathers ``_FANOUT`` commands."""
    setup = (
        _AIO_SETUP
        + f"rem = tether.aio.{cls}(fixture['host'], {_TETHER_KW}, max_sessions={_MAX_SESSIONS})\n"
        + f"loop.run_until_complete(rem.connect())\nloop.run_until_complete(fanout({_WARM}))\n"
    )
    return Variant(f"tether aio.{cls}", "tether", setup, f"loop.run_until_complete(fanout({_FANOUT}))",
                   "loop.run_until_complete(rem.close()); loop.close()")


def tether_machine(cls: str, stmt: str, name: str | None = None, extra_setup: str = "") -> Variant:
    setup = f"from tether import {cls}\nrem = {cls}(fixture['host'], {_TETHER_KW})\n{extra_setup}"
    return Variant(name or f"tether {cls}", "tether", setup, stmt, "rem.close()")


CASES = [
    Case(
        name="remote.connect",
        title="connect, run `true`, close",
        variants=[
            Variant("tether NativeSshMachine", "tether", "from tether import NativeSshMachine",
                    f"with NativeSshMachine(fixture['host'], {_TETHER_KW}) as rem: rem['true']()"),
            Variant("tether SshMachine", "tether", "from tether import SshMachine",
                    f"with SshMachine(fixture['host'], {_TETHER_KW}) as rem: rem['true']()"),
            Variant("asyncssh", "peers", _ASYNCSSH_SETUP,
                    "async def once():\n"
                    f"    async with asyncssh.connect({_ASYNCSSH_KW}) as c: await c.run(TRUE, check=True)\n"
                    "loop.run_until_complete(once())",
                    requires=("asyncssh",)),
            Variant("paramiko", "peers", _PARAMIKO_SETUP, "c = paramiko_client(); paramiko_run(c, TRUE); c.close()",
                    requires=("paramiko",)),
            Variant("plumbum SshMachine", "peers", _PLUMBUM_SETUP,
                    "with plumbum_machine() as rem: rem['true']()", requires=("plumbum",)),
        ],
        goals=[MedianBelow(0.030, "tether NativeSshMachine", "connect + first command < 30 ms"),
               NoSlowerThan("asyncssh"), NoSlowerThan("paramiko")],
        samples=15, number=1, warmup=1, budget=60, needs_sshd=True,
    ),
    Case(
        name="remote.command",
        title="one command on an open connection: rem['true']()",
        variants=[
            tether_machine("NativeSshMachine", "rem['true']()"),
            tether_machine("SshMachine", "rem['true']()"),
            tether_machine("PuttyMachine", "rem['true']()"),
            Variant("ssh -S ControlMaster", "tether", _CONTROL_MASTER_SETUP,
                    "subprocess.run([*client, TRUE], check=True)",
                    "subprocess.run([*client, '-O', 'exit'], capture_output=True); master.wait()"),
            Variant("asyncssh", "peers", _ASYNCSSH_SETUP + "c = connect()",
                    "loop.run_until_complete(c.run(TRUE, check=True))", requires=("asyncssh",)),
            Variant("paramiko", "peers", _PARAMIKO_SETUP + "c = paramiko_client()", "paramiko_run(c, TRUE)",
                    "c.close()", requires=("paramiko",)),
            Variant("fabric", "peers",
                    _TRUE + "from fabric import Connection\n"
                    "c = Connection(fixture['host'], user=fixture['user'], port=fixture['port'], "
                    "connect_kwargs={'key_filename': fixture['keyfile'], 'look_for_keys': False, 'allow_agent': False})\n"
                    "c.client.load_host_keys(fixture['known_hosts'])",
                    "c.run(TRUE, hide=True)", "c.close()", requires=("fabric",)),
            Variant("plumbum SshMachine", "peers", _PLUMBUM_SETUP + "rem = plumbum_machine()", "rem['true']()",
                    "rem.close()", requires=("plumbum",)),
        ],
        goals=[MedianBelow(0.003, "tether NativeSshMachine", "command < 3 ms"),
               NoSlowerThan("asyncssh", 1.0), NoSlowerThan("paramiko"), NoSlowerThan("fabric"),
               NoSlowerThan("plumbum SshMachine")],
        reference="tether NativeSshMachine",
        samples=30, number=5, warmup=3, budget=90, needs_sshd=True,
    ),
    Case(
        name="remote.command-over-controlmaster",
        title="SshMachine command vs raw `ssh -S` on its own ControlMaster",
        variants=[
            tether_machine("SshMachine", "rem['true']()"),
            Variant("ssh -S ControlMaster", "tether", _CONTROL_MASTER_SETUP,
                    "subprocess.run([*client, TRUE], check=True)",
                    "subprocess.run([*client, '-O', 'exit'], capture_output=True); master.wait()"),
        ],
        goals=[NoSlowerThan("ssh -S ControlMaster", 1.2)],
        samples=40, number=5, warmup=3, budget=60, needs_sshd=True,
    ),
    Case(
        name="remote.session",
        title="rem.session().run('true'), per command",
        variants=[
            tether_machine("SshMachine", "s.run('true')", extra_setup="s = rem.session()"),
            tether_machine("NativeSshMachine", "s.run('true')", extra_setup="s = rem.session()"),
            Variant("plumbum SshMachine", "peers", _PLUMBUM_SETUP + "rem = plumbum_machine()\ns = rem.session()",
                    "s.run('true')", "s.close(); rem.close()", requires=("plumbum",)),
        ],
        goals=[MedianBelow(0.00025, "tether SshMachine", "session command < 0.25 ms"),
               NoSlowerThan("plumbum SshMachine")],
        samples=40, number=50, warmup=50, budget=60, needs_sshd=True,
    ),
    Case(
        name="remote.stdout-200MB",
        title="200 MB of remote stdout into this process",
        variants=[
            tether_machine("NativeSshMachine", "assert len(cmd()) == 200_000_000",
                           extra_setup="cmd = rem['head']['-c', '200000000', '/dev/zero']"),
            tether_machine("SshMachine", "assert len(cmd()) == 200_000_000",
                           extra_setup="cmd = rem['head']['-c', '200000000', '/dev/zero']"),
            Variant("asyncssh", "peers", _ASYNCSSH_SETUP + "c = connect()",
                    "r = loop.run_until_complete(c.run('head -c 200000000 /dev/zero', encoding=None))\n"
                    "assert len(r.stdout) == 200_000_000", requires=("asyncssh",)),
            Variant("paramiko", "peers", _PARAMIKO_SETUP + "c = paramiko_client()",
                    "assert len(paramiko_run(c, 'head -c 200000000 /dev/zero')) == 200_000_000", "c.close()",
                    requires=("paramiko",)),
        ],
        goals=[MedianBelow(0.4, "tether NativeSshMachine", ">= 500 MB/s (under 0.4 s)"),
               NoSlowerThan("asyncssh"), NoSlowerThan("paramiko")],
        reference="tether NativeSshMachine",
        samples=7, number=1, warmup=1, budget=120, timeout=300, needs_sshd=True,
    ),
    Case(
        name="remote.aio-gather-1000",
        title=f"asyncio.gather of {_FANOUT:,} rem['true']() on one connection (tether.aio)",
        variants=[
            tether_aio_machine("NativeSshMachine"),
            tether_aio_machine("SshMachine"),
            Variant("asyncssh", "peers", _ASYNCSSH_FANOUT_SETUP, f"loop.run_until_complete(fanout({_FANOUT}))",
                    "c.close(); loop.run_until_complete(c.wait_closed()); loop.close()", requires=("asyncssh",)),
        ],
        # the goal: NativeSshMachine <= 1.0x raw asyncssh (with the same channel limit)
        goals=[NoSlowerThan("asyncssh")],
        reference="tether aio.NativeSshMachine",
        # one sample is 1,000 commands (seconds each: SshMachine's ~14 s here): few samples, no
        # harness warmup (setup warms up), 3-4 rounds in about 90 s
        samples=5, number=1, warmup=0, budget=75, timeout=180, needs_sshd=True,
    ),
]
