"""A script that ends while it still holds popen() handles exits at once, and leaves nothing running remotely."""

import subprocess
import sys
import uuid

import pytest

from tether import local

pytestmark = pytest.mark.sshd

SCRIPT = """
import sys, tempfile
# a weakref.finalize made before tether is imported (TemporaryDirectory makes one) puts the
# finalizers' exit hook before tether's in atexit's order: machines must still close first
scratch = tempfile.TemporaryDirectory()
from tether import local, NativeSshMachine, SshMachine
kind, host, user, port, key, known, marker = sys.argv[1:]
if kind == "local":
    p = local["echo"].popen()      # plumbum's pattern: communicate, then just end
    p.communicate()
    q = local["cat"].popen()       # and one whose stdin is still open
else:
    cls = NativeSshMachine if kind == "native" else SshMachine
    rem = cls(host, user=user, port=int(port), keyfile=key, known_hosts=known)
    p = rem["sh"]["-c", "sleep 300; : " + marker].popen()   # the README's tail -f pattern
    assert p.pid
print("end of script", flush=True)
"""


@pytest.mark.parametrize("kind", ["local", "native", "ssh"])
def test_script_with_open_popen_handles_exits(kind, sshd_server, tmp_path):
    s = sshd_server
    marker = uuid.uuid4().hex[:12]
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    argv = [sys.executable, str(script), kind, s.host, s.user, str(s.port), str(s.client_key), str(s.known_hosts), marker]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "end of script\n"
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    # closing the machine at exit ended the remote command (the server is this host)
    assert local["pgrep"]["-f", f"[s]leep 300; : {marker}"].run(retcode=None)[1] == ""
