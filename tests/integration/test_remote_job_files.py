"""Finished commands' pid files on the remote are swept away now and then, off the caller's thread."""

import os
import time

import pytest

import tether.machines.remote as remote_module
from tether import SshMachine

pytestmark = pytest.mark.sshd


def test_finished_jobs_files_are_swept(sshd_server, monkeypatch):
    monkeypatch.setattr(remote_module, "SWEEP_EVERY", 5)
    s = sshd_server
    with SshMachine(s.host, user=s.user, port=s.port, keyfile=s.client_key, known_hosts=s.known_hosts) as rem:
        run_dir = rem.aio._remote.run_dir  # the server is this machine: its files are ours to look at
        for _ in range(5):
            rem["true"]()
        assert len([f for f in os.listdir(run_dir) if f.startswith("p")]) == 5  # files of finished jobs stay a while
        rem["true"]()  # the 6th command (number 5): a sweep starts
        deadline = time.monotonic() + 10
        while len([f for f in os.listdir(run_dir) if f.startswith("p")]) > 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len([f for f in os.listdir(run_dir) if f.startswith("p")]) <= 2
