"""The seed guide's Remote sections (seeds 000/001), run as written on every remote machine.

Only host, user and key come from the test server; ``print`` is Python 3's.
Where the guide relies on programs this host may lack (``sudo``,
``ifconfig``), small stand-ins are put on the remote PATH so the lines
themselves run unchanged.
"""

import shutil

import pytest

from tether import NativeSshMachine, PuttyMachine, SshMachine
from tether.paths.remote import RemotePath

pytestmark = pytest.mark.sshd

MACHINES = {"SshMachine": SshMachine, "NativeSshMachine": NativeSshMachine, "PuttyMachine": PuttyMachine}


@pytest.fixture(params=list(MACHINES))
def Machine(request, sshd_server):
    if request.param == "PuttyMachine" and not shutil.which("plink"):
        pytest.skip("plink (putty-tools) is not installed")
    cls = MACHINES[request.param]

    def connect(hostname, user, keyfile):
        return cls(hostname, user=user, keyfile=keyfile, port=sshd_server.port, known_hosts=sshd_server.known_hosts)

    return connect


@pytest.fixture
def server(sshd_server):
    return sshd_server


def test_remote_machines_section(Machine, server, capsys):
    rem = Machine(server.host, user=server.user, keyfile=server.client_key)
    # ...
    rem.close()

    with Machine(server.host, user=server.user, keyfile=server.client_key) as rem:
        pass
    assert rem.closed


def test_working_directory_and_environment_section(Machine, server, capsys):
    with Machine(server.host, user=server.user, keyfile=server.client_key) as rem, rem.tempdir() as home:
        (home / "Desktop").mkdir()
        rem.cwd.chdir(home)

        assert repr(rem.cwd) == f"<RemoteWorkdir {home}>"
        with rem.cwd(rem.cwd / "Desktop"):
            print(rem.cwd)
        assert capsys.readouterr().out == f"{home}/Desktop\n"
        assert rem.env["PATH"] and "/bin" in rem.env["PATH"].split(":")
        assert isinstance(rem.which("ls"), RemotePath)
        assert repr(rem.which("ls")) in ("<RemotePath /bin/ls>", "<RemotePath /usr/bin/ls>")


def test_remote_commands_section(Machine, server):
    with Machine(server.host, user=server.user, keyfile=server.client_key) as rem, rem.tempdir() as d:
        rem.cwd.chdir(d)
        for name in ("foo", "bar", "spam"):
            (d / name).touch()
        assert str(rem["ls"].executable).endswith("/ls")
        python = rem.python.executable
        assert repr(rem[str(python)]).endswith(f"'{python}'>")
        r_ls = rem["ls"]
        r_grep = rem["grep"]
        assert r_ls() == "bar\nfoo\nspam\n"
        assert r_ls("-a") == ".\n..\nbar\nfoo\nspam\n"
        assert r_grep  # looked up like r_ls


def test_nesting_commands_section(Machine, server, tmp_path):
    with Machine(server.host, user=server.user, keyfile=server.client_key) as rem, rem.tempdir() as shims:
        _stand_ins(rem, shims)
        r_sudo = rem["sudo"]
        r_ifconfig = rem["ifconfig"]
        print(r_sudo[r_ifconfig["-a"]]())
        assert "Link encap" in r_sudo[r_ifconfig["-a"]]() or "flags=" in r_sudo[r_ifconfig["-a"]]()

    from tether import local

    ssh = local["ssh"]["-F", str(server.ssh_config)]  # "localhost" is the test server's alias here
    line = str(ssh["tether-test", ssh["tether-test", "ls"]])
    # quoted once per level (plumbum prints the inner command unquoted)
    assert line.count(f"{local.which('ssh')} -F") == 2 and line.endswith("tether-test ls'")
    assert ssh["tether-test", ssh["tether-test", "ls", "/"]]().split() == local["ls"]("/").split()


def test_piping_section(Machine, server):
    with Machine(server.host, user=server.user, keyfile=server.client_key) as rem, rem.tempdir() as d:
        rem.cwd.chdir(d)
        for name in ("bin", "Public", "src"):
            (d / name).mkdir()
        r_grep = rem["grep"]
        r_ls = rem["ls"]
        assert (r_ls | r_grep["b"])() == "Public\nbin\n" or (r_ls | r_grep["b"])() == "bin\nPublic\n"

        from tether.cmd import grep

        assert sorted((r_ls | grep["b"])().split()) == ["Public", "bin"]


def _stand_ins(rem, shims):
    """sudo and ifconfig where the host lacks them: `sudo` runs its arguments; `ifconfig` prints an interface."""
    if "sudo" not in rem:
        (shims / "sudo").write('#!/bin/sh\nexec "$@"\n')
        (shims / "sudo").chmod(0o755)
    if "ifconfig" not in rem:
        (shims / "ifconfig").write('#!/bin/sh\necho "eth0      Link encap:Ethernet  HWaddr 00:00:00:00:00:00"\n')
        (shims / "ifconfig").chmod(0o755)
    rem.env.path.insert(0, shims)
