"""`tether demo` runs to the end on a fresh machine: the README's first promise."""

import re
import subprocess
import sys

import pytest


@pytest.mark.parametrize("server", ["embedded", "openssh"])
def test_demo_runs_every_step(server):
    from tether.testing.sshd import sshd_path

    if server == "openssh" and sshd_path() is None:
        pytest.skip("needs OpenSSH's sshd")
    result = subprocess.run(
        [sys.executable, "-m", "tether.cli", "demo", "--server", server],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    done, total = re.search(r"(\d+)/(\d+) steps succeeded", result.stdout).groups()
    assert done == total and int(total) >= 15
