"""How the agent gets onto a machine: a short ``python3 -I -c`` loader plus a compressed program.

The loader is the only thing on the remote command line. It reads exactly N
bytes from stdin, decompresses them and runs them: the codec, the framing and
:mod:`tether.agent.remote_main`, each as its own module, then calls
``main(config)``. Everything it needs is in the remote's stdlib; nothing is
installed or written to the remote's disk. ``-I`` (isolated mode) keeps the
remote's ``PYTHON*`` variables and user site-packages out of the agent.
"""

from __future__ import annotations

import functools
import zlib
from importlib import resources

#: the modules shipped, in load order: (remote module name, tether source file)
_SHIPPED = (
    ("tether_agent_codec", ("tether", "codec.py")),
    ("tether_agent_framing", ("tether.agent", "framing.py")),
    ("tether_agent_main", ("tether.agent", "remote_main.py")),
)

_LOADER = """import os,zlib
n={size}
b=b''
while len(b)<n:
 c=os.read(0,n-len(b))
 if not c:raise SystemExit('tether agent: stdin closed during bootstrap')
 b+=c
exec(zlib.decompress(b))
_tether_main({config!r})"""

_PRELUDE = """import sys, types
def _tether_module(name, source):
    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(compile(source, "<tether-agent:" + name + ">", "exec"), module.__dict__)
    return module
"""


@functools.lru_cache(maxsize=1)
def program() -> bytes:
    """The compressed program the loader runs (the same for every agent, so built once)."""
    lines = [_PRELUDE]
    for name, (package, filename) in _SHIPPED:
        source = resources.files(package).joinpath(filename).read_text("utf-8")
        lines.append(f"_tether_module({name!r}, {source!r})")
    lines.append("_tether_main = sys.modules['tether_agent_main'].main")
    return zlib.compress("\n".join(lines).encode("utf-8"), 9)


def loader(config: dict) -> str:
    """The ``-c`` text: reads ``len(program())`` bytes of stdin and starts the agent with ``config``."""
    return _LOADER.format(size=len(program()), config=config)
