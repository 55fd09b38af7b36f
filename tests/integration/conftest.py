"""Fixtures shared by the integration tests (the sshd fixtures themselves come from tether.testing)."""

import pytest


@pytest.fixture(scope="module")
def stock_sshd(tmp_path_factory):
    """An sshd with OpenSSH's default limit of 10 sessions per connection: one channel past it is refused."""
    from tether.testing import start_openssh_server
    from tether.testing.sshd import sshd_path

    if sshd_path() is None:
        pytest.skip("needs OpenSSH's sshd")
    with start_openssh_server(tmp_path_factory.mktemp("stock-sshd"), extra_config=["MaxSessions 10"]) as server:
        yield server
