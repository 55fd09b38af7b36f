"""remoto's json model: a fresh ``python -c`` per call, for targets where nothing else can run.

No agent stays behind: each call sends the module's source plus a footer
that calls one function and prints the outcome as one JSON line, marked so
that the module's own prints cannot be mistaken for it::

    remote_foo = rem.import_module(foo, model="json")
    remote_foo.listdir(".")          # python -c '<foo's source + footer>'

Arguments and results go through JSON (tuples come back as lists). A remote
exception is raised as :class:`tether.exceptions.RemoteCallError`, also an
instance of the builtin class where the remote one is builtin. It costs a
whole interpreter start per call (tens of milliseconds), which is why the
agent is the default.
"""

from __future__ import annotations

import json
from typing import Any

from ..exceptions import AgentError, remote_error_class
from .calls import module_source
from .controller import default_python

_MARKER = "\x1etether-json-result\x1e"

_FOOTER = """

if __name__ == '__main__':
    import json as _tj, sys as _ts, traceback as _tt
    _tcall = _tj.loads({call!r})
    _tout = {{'return': None, 'exception': None}}
    try:
        _tout['return'] = globals()[_tcall[0]](*_tcall[1], **_tcall[2])
    except BaseException as _te:
        _tc = type(_te)
        _tout['exception'] = _tt.format_exc()
        _tout['type'] = _tc.__qualname__ if _tc.__module__ in ('builtins', '__main__') else _tc.__module__ + '.' + _tc.__qualname__
        _tout['builtin'] = next((c.__name__ for c in _tc.__mro__ if c.__module__ == 'builtins'), None)
        _tout['message'] = str(_te)
        try:
            _tout['args'] = _tj.loads(_tj.dumps(list(_te.args)))
        except Exception:
            _tout['args'] = []
    _ts.stdout.flush()
    _ts.stdout.write({marker!r} + _tj.dumps(_tout) + '\\n')
"""


def call_script(source: str, function: str, args: tuple, kwargs: dict) -> str:
    """The ``-c`` text for one call: the module, then the footer calling ``function``."""
    call = json.dumps([function, list(args), kwargs])
    return source + _FOOTER.format(call=call, marker=_MARKER)


def outcome(rc: int, stdout: str, stderr: str, host: str | None) -> Any:
    """The function's return value, or its exception raised here."""
    _, marker, line = stdout.rpartition(_MARKER)
    if not marker:
        tail = stderr.strip().splitlines()[-5:]
        raise AgentError(f"the json call printed no result (exit code {rc}); stderr: {' | '.join(tail)}", host)
    result = json.loads(line)
    if result.get("exception") is None:
        return result["return"]
    cls = remote_error_class(result.get("builtin"))
    raise cls(result.get("type", "Exception"), result.get("message", ""), result["exception"], host,
              tuple(result.get("args") or ()))


class JsonModule:
    """A module called through remoto's json model on a (sync) machine."""

    def __init__(self, machine: Any, module: Any, python: str | None = None) -> None:
        self.__name__, self._source = module_source(module)
        self._machine = machine
        self._python = python or default_python(machine)

    def __repr__(self) -> str:
        return f"<json-model remote module {self.__name__!r} on {self._machine!r}>"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            script = call_script(self._source, name, args, kwargs)
            rc, out, err = self._machine[self._python]["-c", script].run(retcode=None)
            return outcome(rc, out, err, self._machine.host)

        call.__name__ = name
        return call


class AsyncJsonModule(JsonModule):
    """The same on a ``tether.aio`` machine: ``await remote_foo.listdir(".")``."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            script = call_script(self._source, name, args, kwargs)
            rc, out, err = await self._machine[self._python]["-c", script].run(retcode=None)
            return outcome(rc, out, err, self._machine.host)

        call.__name__ = name
        return call
