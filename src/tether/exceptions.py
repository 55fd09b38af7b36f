"""Every error tether raises.

One root, so ``except TetherError`` catches all of them; each class also
subclasses the stdlib class a caller would naturally catch::

    TetherError
    ├── CommandLineError (ValueError)        bad argv: NUL byte, too long, bad env name
    ├── RedirectionError (ValueError)        a stream redirected twice
    ├── CommandNotFound (LookupError)        no such program on the machine's PATH
    ├── ProcessExecutionError                unexpected exit code (argv, retcode, stdout, stderr, host)
    │   └── ProcessTimedOut (TimeoutError)   the process was killed after ``timeout=``
    │       └── ProcessLineTimedOut          no output line within ``line_timeout=``
    ├── ShellSessionError                    a persistent shell died or lost framing
    ├── ConnectError (OSError)               could not reach or keep the remote machine
    │   ├── AuthenticationError              the server refused our credentials
    │   ├── HostKeyError                     unknown or changed host key
    │   └── TunnelError                      a forward, or a connection through one, failed
    ├── ClosedError                          the machine/session was used after close()
    ├── PipeError (BrokenPipeError)          an SshPipe's remote handler is gone or never came up
    │   └── PipeStartTimeout (TimeoutError)  the handler did not report ready within ``start(timeout=)``
    ├── NetworkError                         tether.network: Manager, Service, Client
    │   ├── CertificateError (ConnectError)  the Manager's TLS certificate did not verify
    │   ├── FrameError (ValueError)          a line too long, or not a JSON object
    │   ├── RemoteError (RuntimeError)       a Service or the Manager answered with an error
    │   └── RequestTimedOut (TimeoutError)   no reply within the request's timeout
    ├── TransferError (OSError)              a file transfer or remote file write did not complete
    ├── SshConfigError (ValueError)          an ssh_config or value that OpenSSH would reject or misread
    │   └── HostBlockNotFound (LookupError)  no ``Host`` block has the pattern an edit named
    ├── PortalError (RuntimeError)           a sync call made from tether's own event loop
    ├── DependencyError (ImportError)        an installed library is outside the range tether supports
    ├── AgentError (ConnectionError)         the remote Python agent died, would not start, broke the protocol
    ├── FrameTooLarge (ValueError)           an agent frame over the size limit (size, limit, direction)
    ├── ChannelClosed (EOFError)             receive() on an agent channel that the other side closed
    └── RemoteCallError                      code run by the agent raised (remote_type, message, traceback)
        └── (on the fly) RemoteCallError + the builtin class, e.g. FileNotFoundError

Every class pickles and unpickles intact: exceptions cross process boundaries
(multiprocessing, the agent), and a half-restored exception hides the cause.
Passwords never appear in any field: machines build these from argv and
output only, and argv never carries a password.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "AgentError",
    "AuthenticationError",
    "ChannelClosed",
    "ClosedError",
    "CommandLineError",
    "CommandNotFound",
    "ConnectError",
    "DependencyError",
    "FrameTooLarge",
    "HostBlockNotFound",
    "HostKeyError",
    "PipeError",
    "PipeStartTimeout",
    "PortalError",
    "ProcessExecutionError",
    "ProcessLineTimedOut",
    "ProcessTimedOut",
    "RedirectionError",
    "RemoteCallError",
    "ShellSessionError",
    "SshConfigError",
    "TetherError",
    "TransferError",
    "TunnelError",
]

#: how many trailing lines of stdout/stderr an error message shows
TAIL_LINES = 10


def _rebuild(cls: type, args: tuple, kwargs: dict) -> BaseException:
    return cls(*args, **kwargs)


class TetherError(Exception):
    """Root of every tether error.

    Subclasses call ``_keep(args, kwargs)`` with their constructor arguments;
    pickling replays the constructor, so structured fields survive intact even
    for classes whose stdlib base (``OSError``) reinterprets ``args``.
    """

    _init_args: tuple = ()
    _init_kwargs: dict = {}

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._init_args = args
        self._init_kwargs = {}

    def _keep(self, args: tuple, kwargs: dict) -> None:
        self._init_args = args
        self._init_kwargs = kwargs

    def __reduce__(self) -> tuple:
        return (_rebuild, (type(self), self._init_args, self._init_kwargs), self.__dict__ or None)


class CommandLineError(TetherError, ValueError):
    """A command line that cannot be run as given (NUL byte, too long, bad name)."""


class RedirectionError(TetherError, ValueError):
    """A standard stream was redirected twice, or to something unusable."""


class CommandNotFound(TetherError, LookupError):
    """The program is not on the machine's PATH (``program``, ``path``, ``host``)."""

    def __init__(self, program: str, path: Iterable[str] = (), host: str | None = None) -> None:
        self.program = program
        self.path = list(path)
        self.host = host
        where = f" on {host}" if host else ""
        super().__init__(f"command not found{where}: {program!r} (searched {len(self.path)} PATH entries)")
        self._keep((program, self.path, host), {})


def _tail(text: str | bytes | None, lines: int = TAIL_LINES) -> str:
    if not text:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    kept = text.rstrip("\n").splitlines()[-lines:]
    return "\n".join(kept)


def _block(label: str, text: str) -> str:
    pad = " " * (len("Command line") + 3)
    return f"{label:<12} | " + text.replace("\n", "\n" + pad)


class ProcessExecutionError(TetherError):
    """A process exited with a code the caller did not expect.

    Fields: ``argv`` (list of str), ``retcode``, ``stdout``, ``stderr``,
    ``host`` (None for the local machine). ``str()`` shows the command line,
    host, exit code and the last lines of output in aligned blocks.
    """

    def __init__(
        self,
        argv: Any,
        retcode: int | None,
        stdout: str | bytes = "",
        stderr: str | bytes = "",
        host: str | None = None,
        message: str | None = None,
    ) -> None:
        self.argv = list(argv) if isinstance(argv, (list, tuple)) else argv
        self.retcode = retcode
        self.stdout = stdout
        self.stderr = stderr
        self.host = host
        self.message = message
        super().__init__(argv, retcode, stdout, stderr)
        self._keep((argv, retcode, stdout, stderr, host, message), {})

    def __str__(self) -> str:
        from .commands.quoting import shell_line  # leaf import: quoting has no I/O

        argv = self.argv
        line = shell_line(argv) if isinstance(argv, list) else str(argv)
        parts = [self.message or "Unexpected exit code", _block("Command line", line)]
        if self.host:
            parts.append(_block("Host", self.host))
        parts.append(_block("Exit code", str(self.retcode)))
        for label, text in (("Stdout", self.stdout), ("Stderr", self.stderr)):
            tail = _tail(text)
            if tail:
                parts.append(_block(label, tail))
        return "\n".join(parts)


class ProcessTimedOut(ProcessExecutionError, TimeoutError):
    """The process ran past ``timeout=`` and was killed (with its process group)."""

    def __init__(
        self,
        argv: Any,
        timeout: float | None,
        stdout: str | bytes = "",
        stderr: str | bytes = "",
        host: str | None = None,
    ) -> None:
        self.timeout = timeout
        super().__init__(argv, None, stdout, stderr, host, f"Process timed out after {timeout} s")
        self._keep((argv, timeout, stdout, stderr, host), {})


class ProcessLineTimedOut(ProcessTimedOut):
    """``iter_lines(line_timeout=...)`` waited too long for the next line."""

    def __init__(
        self,
        argv: Any,
        timeout: float | None,
        stdout: str | bytes = "",
        stderr: str | bytes = "",
        host: str | None = None,
    ) -> None:
        super().__init__(argv, timeout, stdout, stderr, host)
        self.message = f"No output line within {timeout} s"


class ShellSessionError(TetherError):
    """The persistent shell behind ``session()`` died or its framing broke."""


class _HostError(TetherError):
    """An error about one host: ``message`` and ``host`` (None for the local machine)."""

    def __init__(self, message: str, host: str | None = None) -> None:
        self.host = host
        self.message = message
        super().__init__(message)
        self._keep((message, host), {})

    def __str__(self) -> str:
        return f"{self.message} (host: {self.host})" if self.host else self.message


class ConnectError(_HostError, OSError):
    """Could not connect to (or stay connected to) a remote machine.

    Also an ``OSError``, so ``except OSError`` around network code keeps working.
    """


class AuthenticationError(ConnectError):
    """The server refused every credential we offered."""


class HostKeyError(ConnectError):
    """The server's host key is unknown or has changed; the message says how to trust it."""


class TunnelError(ConnectError):
    """A forward could not be set up (port in use, refused by the server), or the
    far end refused a forwarded connection (``message``, ``host``)."""


class ClosedError(TetherError):
    """The object was used after ``close()``."""


class PortalError(TetherError, RuntimeError):
    """A blocking tether call was made from tether's own event-loop thread: use ``tether.aio``."""


class DependencyError(TetherError, ImportError):
    """An installed library is outside the range tether supports (``package``, ``version``, ``supported``)."""

    def __init__(self, message: str, package: str, version: str, supported: str) -> None:
        self.message = message
        self.package, self.version, self.supported = package, version, supported
        super().__init__(message)
        self._keep((message, package, version, supported), {})

    def __str__(self) -> str:
        return self.message


class PipeError(TetherError, BrokenPipeError):
    """An :class:`~tether.pipe.SshPipe` cannot carry a message: its handler ended or never started.

    Fields: ``name`` (the pipe's), ``exitcode`` (the handler's, when known),
    ``stderr`` (its last lines, when known).
    """

    def __init__(self, message: str, name: str | None = None, exitcode: int | None = None, stderr: str = "") -> None:
        self.message = message
        self.name = name
        self.exitcode = exitcode
        self.stderr = stderr
        super().__init__(message)
        self._keep((message, name, exitcode, stderr), {})

    def __str__(self) -> str:
        parts = [self.message]
        if self.exitcode is not None:
            parts.append(_block("Exit code", str(self.exitcode)))
        tail = _tail(self.stderr)
        if tail:
            parts.append(_block("Stderr", tail))
        return "\n".join(parts)


class PipeStartTimeout(PipeError, TimeoutError):
    """The pipe's handler did not report ready in time (the remote command was stopped)."""
# --- tether.network -----------------------------------------------------------

__all__ += ["CertificateError", "FrameError", "NetworkError", "RemoteError", "RequestTimedOut"]


class NetworkError(TetherError):
    """Something went wrong between a Manager, a Service and a Client."""


class CertificateError(NetworkError, ConnectError):
    """The Manager's TLS certificate did not verify (unknown CA, wrong name, pin mismatch)."""


class FrameError(NetworkError, ValueError):
    """A network line was too long or not a JSON object; the connection is dropped."""


class RemoteError(NetworkError, RuntimeError):
    """A Service (or the Manager) answered a request with an error.

    ``type_name`` is the remote exception's class name (``"ZeroDivisionError"``),
    ``remote_traceback`` its formatted traceback lines; both arrive as text,
    nothing is unpickled. ``source`` names who answered (``"Manager"``, a
    service name).
    """

    def __init__(self, message: str, type_name: str = "", remote_traceback: Iterable[str] = (),
                 source: str = "") -> None:
        self.message = message
        self.type_name = type_name
        self.remote_traceback = list(remote_traceback)
        self.source = source
        super().__init__(message)
        self._keep((message, type_name, self.remote_traceback, source), {})

    def __str__(self) -> str:
        head = f"{self.source} raised {self.message}" if self.source else self.message
        if not self.remote_traceback:
            return head
        return head + "\nRemote traceback:\n  " + "\n  ".join(self.remote_traceback)


class RequestTimedOut(NetworkError, TimeoutError):
    """No reply within the request's ``timeout`` (the request is forgotten, not retried)."""

    def __init__(self, request: str, timeout: float | None) -> None:
        self.request = request
        self.timeout = timeout
        super().__init__(f"no reply to {request} within {timeout} s")
        self._keep((request, timeout), {})


class TransferError(_HostError, OSError):
    """A transfer or remote file write did not complete; the destination kept its old content.

    Also an ``OSError``, as a failed local file copy would be.
    """

    def __str__(self) -> str:
        return self.message


# -- ssh_config (tether.sshconfig) -------------------------------------------------


class SshConfigError(TetherError, ValueError):
    """The config (or a value for it) is one OpenSSH would reject or misread."""


class HostBlockNotFound(SshConfigError, LookupError):
    """No ``Host`` block has the pattern an edit named."""


# -- the agent (tether.agent) ----------------------------------------------------


class AgentError(_HostError, ConnectionError):
    """The remote Python agent could not start, died, or broke the protocol.

    Raised ``from`` the transport error behind it when there is one.
    """


class FrameTooLarge(TetherError, ValueError):
    """An agent frame is over the size limit; one being sent is refused before any byte goes out."""

    def __init__(self, size: int, limit: int, direction: str = "send") -> None:
        self.size = size
        self.limit = limit
        self.direction = direction
        hint = " (split the data, or raise max_frame=)" if direction == "send" else ""
        super().__init__(f"a {size}-byte agent frame exceeds the {limit}-byte limit ({direction}){hint}")
        self._keep((size, limit, direction), {})


class ChannelClosed(TetherError, EOFError):
    """``receive()`` on an agent channel that is closed and has nothing left to read."""


class RemoteCallError(TetherError):
    """Code run by the agent raised. ``remote_type``, ``message``, ``remote_traceback``, ``host``.

    When the remote exception is a builtin one, the error raised locally is
    also an instance of that builtin (``except FileNotFoundError`` works): see
    :func:`remote_error_class`.
    """

    builtin: str | None = None

    def __init__(
        self,
        remote_type: str,
        message: str,
        remote_traceback: str = "",
        host: str | None = None,
        remote_args: tuple = (),
    ) -> None:
        self.remote_type = remote_type
        self.message = message
        self.remote_traceback = remote_traceback
        self.host = host
        self.remote_args = tuple(remote_args)
        # the builtin base sees the remote args, so OSError gets errno/filename back
        super().__init__(*(self.remote_args or (message,)))
        self._keep((remote_type, message, remote_traceback, host, self.remote_args), {})

    def __str__(self) -> str:
        where = f" on {self.host}" if self.host else ""
        text = f"{self.remote_type}{where}: {self.message}"
        if self.remote_traceback:
            text += "\n\nRemote traceback:\n" + self.remote_traceback.rstrip("\n")
        return text

    def __reduce__(self) -> tuple:
        return (_rebuild_remote, (self.builtin, self._init_args), self.__dict__ or None)


_REMOTE_CLASSES: dict[str, type] = {}


def remote_error_class(builtin: str | None) -> type[RemoteCallError]:
    """RemoteCallError, or a subclass of both it and the builtin exception class named ``builtin``."""
    import builtins

    base = getattr(builtins, builtin, None) if builtin else None
    if not (isinstance(base, type) and issubclass(base, Exception)) or issubclass(base, TetherError):
        return RemoteCallError
    cls = _REMOTE_CLASSES.get(base.__name__)
    if cls is None:
        cls = type(base.__name__, (RemoteCallError, base), {"builtin": base.__name__, "__module__": __name__})
        _REMOTE_CLASSES[base.__name__] = cls
    return cls


def _rebuild_remote(builtin: str | None, args: tuple) -> RemoteCallError:
    return remote_error_class(builtin)(*args)
