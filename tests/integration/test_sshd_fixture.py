"""The test servers themselves: real clients reach them, host keys are checked, the environment is clean."""

import asyncio
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.sshd


def run(argv, data=b""):
    return subprocess.run(argv, input=data, capture_output=True, timeout=30, check=False)


def test_ssh_client_runs_commands_with_exit_codes_and_stdin(sshd_server):
    assert run(sshd_server.ssh_argv("echo", "hi")).stdout == b"hi\n"
    assert run(sshd_server.ssh_argv("sh", "-c", "'exit 7'")).returncode == 7
    blob = bytes(range(256)) * 4096  # 1 MiB, every byte value
    assert run(sshd_server.ssh_argv("cat"), blob).stdout == blob


def test_remote_environment_is_clean_and_fast(sshd_server):
    # the login shell runs this line: were /root/.bashrc read, pyenv would be set up
    line = "echo $HOME; echo ${PYENV_ROOT-none}; type pyenv >/dev/null 2>&1 && echo pyenv || echo no-pyenv"
    home, pyenv_root, pyenv = run(sshd_server.ssh_argv(line)).stdout.decode().splitlines()
    assert home == str(sshd_server.home)  # an empty HOME: no rc file runs
    assert (pyenv_root, pyenv) == ("none", "no-pyenv")


def test_nested_ssh_through_the_command_algebra(sshd_server):
    from tether import local

    # the inner ssh runs on the "remote", which is this machine, so the config path is valid there.
    # The innermost is a command, not plain strings: ssh joins plain string arguments unquoted.
    ssh, config = local["ssh"], str(sshd_server.ssh_config)
    nested = ssh["-F", config, "tether-test", ssh["-F", config, "tether-test", local["echo"]["a b'c"]]]
    assert nested() == "a b'c\n"


def test_wrong_host_key_is_refused(sshd_server, tmp_path):
    key = tmp_path / "other"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)])
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[{sshd_server.host}]:{sshd_server.port} {' '.join(key.with_suffix('.pub').read_text().split()[:2])}\n")
    result = run(sshd_server.ssh_argv("-o", f"UserKnownHostsFile={wrong}", "true"))
    assert result.returncode == 255
    assert b"IDENTIFICATION HAS CHANGED" in result.stderr or b"verification failed" in result.stderr


@pytest.mark.skipif(not shutil.which("plink"), reason="plink (putty-tools) is not installed")
def test_plink_with_ppk_key_and_pinned_host_key(sshd_server):
    result = run(sshd_server.plink_argv("echo", "from plink"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"from plink\n"


def test_embedded_server_serves_commands_stdin_and_exit_codes(embedded_ssh_server):
    import asyncssh

    server = embedded_ssh_server

    async def main():
        async with asyncssh.connect(
            server.host, server.port, username=server.user, client_keys=[str(server.client_key)],
            known_hosts=str(server.known_hosts),
        ) as conn:
            echoed = await conn.run("cat", input=b"abc\x00def", encoding=None)
            failed = await conn.run("echo oops >&2; exit 3")
            home = await conn.run("echo $HOME")
            return echoed.stdout, failed.exit_status, failed.stderr, home.stdout

    stdout, status, stderr, home = asyncio.run(main())
    assert stdout == b"abc\x00def"
    assert (status, stderr) == (3, "oops\n")
    assert home.strip() == str(server.home)
    assert server.kind == "embedded"


def test_embedded_server_refuses_unknown_keys(embedded_ssh_server, tmp_path):
    import asyncssh

    key = tmp_path / "stranger"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)])

    async def main():
        await asyncssh.connect(
            embedded_ssh_server.host, embedded_ssh_server.port, username=embedded_ssh_server.user,
            client_keys=[str(key)], known_hosts=str(embedded_ssh_server.known_hosts),
        )

    with pytest.raises(asyncssh.PermissionDenied):
        asyncio.run(main())


def test_embedded_server_stops_cleanly_right_after_a_client_hangs_up(tmp_path):
    """Stopping the server while its last connection is closing used to race the loop thread
    (asyncio's Server.close() called from another thread): 1 demo in 11 ended in a TypeError."""
    from tether import NativeSshMachine
    from tether.testing import start_embedded_server

    for round in range(25):
        with start_embedded_server(tmp_path / str(round)) as s:
            with NativeSshMachine(s.host, user=s.user, port=s.port, keyfile=s.client_key, known_hosts=s.known_hosts) as rem:
                assert rem["echo"]("up") == "up\n"
