"""Upload and download of 256 MiB, one real sshd: tether's three machines against scp, sftp and the libraries.

Every variant meets the same OpenSSH server with its default cipher. The
server runs on this machine, so "remote" files are files here too: each
worker writes its source (random bytes, so nothing compresses) to a
directory of its own on tmpfs (``/dev/shm`` when there is one), and removes
it at teardown. The timed statement is one whole transfer, which replaces
the destination file each time. The report shows MB/s beside each median.
"""

from __future__ import annotations

from harness import Case, MedianBelow, NoSlowerThan, Variant

SIZE = 256 << 20

_FILES = f"""
import atexit, os, shutil, subprocess, tempfile
work = tempfile.mkdtemp(prefix='tether-bench-xfer-', dir='/dev/shm' if os.path.isdir('/dev/shm') else None)
atexit.register(shutil.rmtree, work, True)  # also when a failing variant never reaches its teardown
src, dst = os.path.join(work, 'src.bin'), os.path.join(work, 'dst.bin')
with open(src, 'wb') as f:
    for _ in range({SIZE >> 20}):
        f.write(os.urandom(1 << 20))
"""
_CLEAN = "shutil.rmtree(work)"
_CHECK = f"\nassert os.path.getsize(dst) == {SIZE}"

_TETHER_KW = "user=fixture['user'], port=fixture['port'], keyfile=fixture['keyfile'], known_hosts=fixture['known_hosts']"
_ASYNCSSH = _FILES + """
import asyncio, asyncssh
loop = asyncio.new_event_loop()
conn = loop.run_until_complete(asyncssh.connect(
    fixture['host'], port=fixture['port'], username=fixture['user'], client_keys=[fixture['keyfile']],
    known_hosts=fixture['known_hosts']))
sftp = loop.run_until_complete(conn.start_sftp_client())
"""
_PARAMIKO = _FILES + """
import paramiko
client = paramiko.SSHClient()
client.load_host_keys(fixture['known_hosts'])
client.set_missing_host_key_policy(paramiko.RejectPolicy())
client.connect(fixture['host'], port=fixture['port'], username=fixture['user'], key_filename=fixture['keyfile'],
               look_for_keys=False, allow_agent=False)
sftp = client.open_sftp()
"""
_PLUMBUM = _FILES + """
from plumbum import SshMachine as PlumbumSsh
rem = PlumbumSsh(fixture['host'], user=fixture['user'], port=fixture['port'], keyfile=fixture['keyfile'],
                 ssh_opts=['-o', 'UserKnownHostsFile=' + fixture['known_hosts'], '-o', 'BatchMode=yes'],
                 scp_opts=['-o', 'UserKnownHostsFile=' + fixture['known_hosts'], '-o', 'BatchMode=yes'])
"""


def _variants(direction: str) -> list[Variant]:
    """``direction`` is "upload" (src here -> dst there) or "download" (src there -> dst here)."""
    up = direction == "upload"
    scp_args = "src, 'tether-test:' + dst" if up else "'tether-test:' + src, dst"
    sftp_line = "'put ' + src + ' ' + dst" if up else "'get ' + src + ' ' + dst"
    library = "put" if up else "get"
    variants = [
        Variant(f"tether {cls}", "tether", _FILES + f"from tether import {cls}\nrem = {cls}(fixture['host'], {_TETHER_KW})",
                f"rem.{direction}(src, dst)" + _CHECK, "rem.close(); " + _CLEAN)
        for cls in ("SshMachine", "NativeSshMachine", "PuttyMachine")
    ]
    variants += [
        Variant("scp", "tether", _FILES, f"subprocess.run(['scp', '-q', '-F', fixture['ssh_config'], {scp_args}], check=True)"
                + _CHECK, _CLEAN),
        Variant("OpenSSH sftp", "tether", _FILES,
                f"subprocess.run(['sftp', '-q', '-F', fixture['ssh_config'], '-b', '-', 'tether-test'], "
                f"input=({sftp_line} + '\\n').encode(), check=True, stdout=subprocess.DEVNULL)" + _CHECK, _CLEAN),
        Variant("paramiko SFTP", "peers", _PARAMIKO, f"sftp.{library}(src, dst)" + _CHECK, "client.close(); " + _CLEAN,
                requires=("paramiko",)),
        Variant("asyncssh SFTP", "peers", _ASYNCSSH, f"loop.run_until_complete(sftp.{library}(src, dst))" + _CHECK,
                "conn.close(); " + _CLEAN, requires=("asyncssh",)),
        Variant("plumbum SshMachine", "peers", _PLUMBUM, f"rem.{direction}(src, dst)" + _CHECK, "rem.close(); " + _CLEAN,
                requires=("plumbum",)),
    ]
    return variants


def _case(direction: str, goal_mb_s: int) -> Case:
    return Case(
        name=f"transfer.{direction}-256MiB",
        title=f"{direction} 256 MiB over one sshd (default cipher)",
        variants=_variants(direction),
        goals=[
            MedianBelow(SIZE / (goal_mb_s * 1e6), "tether SshMachine", f">= {goal_mb_s} MB/s"),
            NoSlowerThan("scp"), NoSlowerThan("OpenSSH sftp"), NoSlowerThan("paramiko SFTP"),
            NoSlowerThan("asyncssh SFTP"), NoSlowerThan("plumbum SshMachine"),
        ],
        reference="tether SshMachine",
        samples=7, number=1, warmup=1, budget=150, timeout=300, needs_sshd=True, bytes_per_op=SIZE,
    )


CASES = [_case("upload", 300), _case("download", 350)]
