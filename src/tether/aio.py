"""The async API: the same operations as the sync one, as coroutines.

::

    from tether.aio import local
    rc, out, err = await local["ls"].run()
    out = await (local["ls"] | local["grep"]["b"])()
    async with await local.session() as s:
        await s.run("cd /tmp; ls")

Remote machines connect in ``async with`` (or ``await rem.connect()``)::

    async with tether.aio.NativeSshMachine("host", user="john") as rem:
        out = await rem["uname"]("-a")

Commands built from these machines return coroutines when run; a machine
not yet connected connects on its first command. ``rem["ls"]`` does no I/O
(the remote shell finds the program when it runs; ``await rem.which("ls")``
asks beforehand), and commands beyond the connection's channel limit wait
for a free channel without blocking the loop. Every public
coroutine here has a blocking twin of the same name and signature on the
sync classes in :mod:`tether` (a test checks that).
"""

from .execution.session import AsyncShellSession
from .machines.container import AsyncDockerMachine as DockerMachine
from .machines.container import AsyncKubernetesMachine as KubernetesMachine
from .machines.container import AsyncOpenShiftMachine as OpenShiftMachine
from .machines.container import AsyncPodmanMachine as PodmanMachine
from .machines.local import AsyncLocalMachine
from .machines.local import local as _sync_local
from .machines.native import AsyncNativeSshMachine as NativeSshMachine
from .machines.putty import AsyncPuttyMachine as PuttyMachine
from .machines.ssh import AsyncSshMachine as SshMachine

#: the local machine, async flavour (shares env and cwd with ``tether.local``)
local: AsyncLocalMachine = _sync_local.aio

__all__ = [
    "AsyncLocalMachine",
    "AsyncShellSession",
    "DockerMachine",
    "KubernetesMachine",
    "NativeSshMachine",
    "OpenShiftMachine",
    "PodmanMachine",
    "PuttyMachine",
    "SshMachine",
    "local",
]
