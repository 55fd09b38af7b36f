"""tether: work on other machines from Python.

::

    from tether import local, FG, BG, TF, RETCODE, TEE, NOHUP, ERROUT
    from tether.cmd import ls, grep
    (ls["-a"] | grep["b"])()

The async API is :mod:`tether.aio`; errors live in :mod:`tether.exceptions`.
"""

from . import (
    connection,
    path,  # tether.path.copy/move/delete between machines
    process,
)
from .commands.base import ERROUT, BaseCommand, Command
from .commands.modifiers import BG, FG, NOHUP, RETCODE, TEE, TF
from .connection import Connection
from .exceptions import (
    AuthenticationError,
    ClosedError,
    CommandLineError,
    CommandNotFound,
    ConnectError,
    HostKeyError,
    PortalError,
    ProcessExecutionError,
    ProcessLineTimedOut,
    ProcessTimedOut,
    RedirectionError,
    ShellSessionError,
    TetherError,
    TransferError,
    TunnelError,
)
from .execution.job import BY_POSITION, BY_TYPE
from .machines.container import DockerMachine, KubernetesMachine, OpenShiftMachine, PodmanMachine
from .machines.local import LocalMachine, local
from .machines.native import NativeSshMachine, connect
from .machines.putty import PuttyMachine
from .machines.ssh import SshMachine
from .machines.tunnel import Tunnel, TunnelSocket  # rem.tunnel(...) / rem.connect_sock(...)

__version__ = "0.1.0.dev0"

__all__ = [
    "BG",
    "BY_POSITION",
    "BY_TYPE",
    "ERROUT",
    "FG",
    "NOHUP",
    "RETCODE",
    "TEE",
    "TF",
    "AuthenticationError",
    "BaseCommand",
    "ClosedError",
    "Command",
    "CommandLineError",
    "CommandNotFound",
    "ConnectError",
    "Connection",
    "DockerMachine",
    "HostKeyError",
    "KubernetesMachine",
    "LocalMachine",
    "NativeSshMachine",
    "OpenShiftMachine",
    "PodmanMachine",
    "PortalError",
    "ProcessExecutionError",
    "ProcessLineTimedOut",
    "ProcessTimedOut",
    "PuttyMachine",
    "RedirectionError",
    "ShellSessionError",
    "SshMachine",
    "TetherError",
    "TransferError",
    "Tunnel",
    "TunnelError",
    "TunnelSocket",
    "connect",
    "connection",
    "local",
    "path",
    "process",
]
