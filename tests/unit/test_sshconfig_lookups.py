"""tether.sshconfig asks the machine through one Lookups object: a fake one answers instead."""

from __future__ import annotations

import os
import stat
from fnmatch import fnmatchcase

import pytest

from tether.sshconfig import SshConfigError, loads
from tether.sshconfig.lookups import LocalUser, Lookups
from tether.sshconfig.resolve import _Resolver


class FakeLookups(Lookups):
    """Files, users and this host from dicts; ``Match exec`` commands recorded, never run."""

    def __init__(self, files: dict[str, str], exit_codes: dict[str, int]) -> None:
        self.files = files
        self.exit_codes = exit_codes
        self.ran: list[str] = []

    def read_text(self, path):
        return self.files[os.fspath(path)]

    def glob(self, pattern):
        return sorted(path for path in self.files if fnmatchcase(path, pattern))

    def stat(self, path):
        if path not in self.files:
            raise FileNotFoundError(path)
        return os.stat_result((stat.S_IFREG | 0o644, 0, 0, 1, os.getuid(), 0, 0, 0, 0, 0))

    def local_user(self, name):
        return LocalUser(name or "alice", 1234, "/home/alice")

    def home_of(self, user):
        return {"bob": "/home/bob"}[user]

    def this_host(self):
        return "box.example", "box"

    def run_exec(self, command):
        self.ran.append(command)
        return self.exit_codes.get(command, 1)


def resolve(text: str, host: str, lookups: Lookups) -> dict:
    """``loads(text).resolve(host, allow_exec=True)``, asking ``lookups``."""
    cfg = loads(text)
    args = (host, None, None, None, True)  # host, user, port, local_user, allow_exec
    return _Resolver(cfg._texts(), cfg.name, cfg.base_dir, *args, lookups).run(True)


def test_every_question_goes_to_the_lookups_object():
    fake = FakeLookups({"/fake/conf.d/a.conf": "User carol\n"}, {"probe h1": 0})
    text = (
        "Include /fake/conf.d/*.conf\n"
        'Match exec "probe %h"\n  Port 2200\n'
        'Match exec "probe again"\n  Port 9\n'
        "Host *\n  ControlPath ~/cm-%l-%L-%u-%i\n  IdentityFile ~bob/key-%d\n"
    )
    opts = resolve(text, "h1", fake)
    assert fake.ran == ["probe h1", "probe again"]
    assert (opts["user"], opts["port"]) == ("carol", "2200")
    assert opts["controlpath"] == "/home/alice/cm-box.example-box-alice-1234"
    assert opts["identityfile"] == ["/home/bob/key-/home/alice"]


def test_a_match_exec_killed_by_a_signal_is_an_error():
    fake = FakeLookups({}, {"probe": -9})
    with pytest.raises(SshConfigError, match=r"match exec 'probe' error \(signal 9\)"):
        resolve('Match exec "probe"\n  Port 1\n', "h1", fake)
