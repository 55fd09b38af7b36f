"""Remote Python: a zero-deploy agent on any machine (see docs/agent.md).

::

    remote_foo = rem.import_module(foo)       # foo's source runs in the agent
    remote_foo.listdir(".")
    ch = rem.remote_exec("for x in channel: channel.send(x + 1)")

The agent is ``python3 -I`` started through the machine's own process API,
speaking length-prefixed frames (:mod:`.framing`) that carry only
:mod:`tether.codec` values: nothing is ever unpickled.
"""

from .api import Agent, AsyncAgent
from .calls import AsyncRemoteModule, RemoteGenerator, RemoteModule
from .channels import AsyncChannel, Channel, LegacyModule
from .json_model import AsyncJsonModule, JsonModule

__all__ = [
    "Agent",
    "AsyncAgent",
    "AsyncChannel",
    "AsyncJsonModule",
    "AsyncRemoteModule",
    "Channel",
    "JsonModule",
    "LegacyModule",
    "RemoteGenerator",
    "RemoteModule",
]
