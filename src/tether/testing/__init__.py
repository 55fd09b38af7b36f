"""Test support shipped with tether: real SSH servers on loopback, as a pytest plugin.

``pytest`` picks the plugin up through the ``pytest11`` entry point; its
fixtures are ``sshd_server`` (OpenSSH's sshd, or the embedded server where
sshd is missing), ``embedded_ssh_server`` and ``private_sshd_server`` (a
test's own sshd, which ``server.kill()`` crashes), and for containers
``podman_container``, ``python_container`` and ``docker_host``
(:mod:`tether.testing.containers`). Outside pytest, use the context
managers directly::

    from tether.testing import start_openssh_server
    with start_openssh_server(tmpdir) as server:
        ...
"""

from .embedded import start_embedded_server
from .server import SshServer
from .sshd import SshdUnavailable, start_openssh_server

__all__ = ["SshServer", "SshdUnavailable", "start_embedded_server", "start_openssh_server"]
