"""SSH in-process with asyncssh: one connection, one channel per command.

Connections live on tether's SSH loop (``_portal.ssh_portal``). A command's
channel is presented as a :class:`ChannelProcess`, which quacks like
:class:`subprocess.Popen` over real OS pipes: asyncssh moves the bytes
between the channel and the pipes, so the local pipeline runner (and
``ShellSession``) treat a remote command exactly like a local process, and
mixed local/remote pipelines stream through the kernel.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import subprocess
from typing import Any

from .._portal import ssh_portal
from ..exceptions import AuthenticationError, ConnectError, HostKeyError
from .openssh import parse_public_key
from .ssh_window import bound_receive_buffer

# channel-open failure codes: administratively prohibited, connect failed, resource shortage
_REFUSALS = (1, 2, 4)


async def open_connection(
    host: str,
    *,
    user: str | None,
    port: int | None,
    keyfile: Any,
    password: str | None,
    known_hosts: Any,
    host_key_policy: str,
    connect_timeout: float,
    keepalive: float | None,
    jump: Any,
    host_key: str | None = None,
) -> Any:
    """An asyncssh connection with tether's defaults; errors become tether's.

    ``host`` is the address itself: the machine resolved any ssh_config alias
    with tether.sshconfig, so asyncssh reads no config file. ``keyfile`` is
    one path or a list of them.
    """
    from .asyncssh_import import asyncssh

    options: dict[str, Any] = {"connect_timeout": connect_timeout, "config": []}
    if user:
        options["username"] = user
    if port:
        options["port"] = int(port)
    if keyfile is not None:
        keys = keyfile if isinstance(keyfile, (list, tuple)) else [keyfile]
        options["client_keys"] = [os.path.expanduser(os.fspath(key)) for key in keys]
    if password is not None:
        options["password"] = password
    if keepalive:
        options["keepalive_interval"] = keepalive
    if jump is not None:
        options["tunnel"] = jump
    known = os.path.expanduser(os.fspath(known_hosts)) if known_hosts is not None else None
    if host_key is not None:  # pinned: this key and no other
        key_type, key_data = parse_public_key(host_key)
        options["known_hosts"] = ([asyncssh.import_public_key(f"{key_type} {key_data}")], [], [])
    elif host_key_policy == "strict":
        if known is not None:
            options["known_hosts"] = known
    elif host_key_policy == "ignore":
        options["known_hosts"] = None  # explicitly insecure
    elif host_key_policy == "accept-new":
        known = known or os.path.expanduser("~/.ssh/known_hosts")
        if not _is_known(known, host, port):
            options["known_hosts"] = None
        else:
            options["known_hosts"] = known
    else:
        raise ValueError(f"host_key_policy must be strict, accept-new or ignore; got {host_key_policy!r}")
    try:
        conn = await asyncssh.connect(host, **options)
    except asyncssh.HostKeyNotVerifiable as exc:
        raise HostKeyError(
            f"host key of {host} could not be verified ({exc.reason}); add it to known_hosts "
            "(ssh-keyscan shows it) or choose host_key_policy='accept-new'",
            host,
        ) from exc
    except asyncssh.PermissionDenied as exc:
        raise AuthenticationError(f"authentication to {host} failed: {exc.reason}", host) from exc
    except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
        raise ConnectError(f"cannot connect to {host}: {exc}", host) from exc
    if host_key is None and host_key_policy == "accept-new" and options["known_hosts"] is None:
        _remember(known, host, port, conn.get_server_host_key())  # type: ignore[arg-type]
    return conn


def _is_known(path: str, host: str, port: int | None) -> bool:
    from .asyncssh_import import asyncssh

    if not os.path.exists(path):
        return False
    trusted, _, _ = asyncssh.match_known_hosts(path, host, "", port or 22)[:3]
    return bool(trusted)


def _remember(path: str, host: str, port: int | None, key: Any) -> None:
    name = host if not port or int(port) == 22 else f"[{host}]:{int(port)}"
    line = f"{name} {key.export_public_key().decode().strip()}\n"
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)


class ChannelProcess:
    """A remote command on an SSH channel, with a ``subprocess.Popen`` face.

    ``stdin``/``stdout``/``stderr`` are the local ends of OS pipes (when
    PIPE was asked for); ``wait()`` blocks any thread; ``send_signal`` sends
    an SSH signal request (the machine also kills the remote process group
    through its control shell, since not every server honours signals).
    """

    pid = None
    watcher: Any = None
    #: resolves once the channel is open (an exception if it could not be opened)
    opening: concurrent.futures.Future

    def __init__(self, process: Any, stdin: Any, stdout: Any, stderr: Any, done: concurrent.futures.Future) -> None:
        self._process = process
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self._done = done
        self.returncode: int | None = None
        done.add_done_callback(self._finished)

    def _finished(self, done: concurrent.futures.Future) -> None:
        try:
            self.returncode = done.result()
        except BaseException:  # the connection died under it
            self.returncode = 255

    def poll(self) -> int | None:
        return self.returncode

    def add_done_callback(self, callback: Any) -> None:
        """Call ``callback(self)`` once the remote command has ended (at once if it has)."""
        self._done.add_done_callback(lambda _: callback(self))

    def wait(self, timeout: float | None = None) -> int:
        try:
            self._done.result(timeout)
        except concurrent.futures.TimeoutError:
            raise subprocess.TimeoutExpired("ssh channel", timeout or 0) from None
        except BaseException:
            pass
        # the future wakes its waiters before it runs its callbacks: _finished may not have run yet
        self._finished(self._done)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is not None:
            return
        if self._process is None:  # not open yet: a kill stops the opening
            if sig in (signal.SIGKILL, signal.SIGTERM):
                self.opening.cancel()
            return
        name = signal.Signals(sig).name[3:]
        ssh_portal.loop.call_soon_threadsafe(_signal_and_close, self._process, name, sig == signal.SIGKILL)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def _signal_and_close(process: Any, name: str, close: bool) -> None:
    try:
        process.send_signal(name)
    except Exception:  # the channel may be closing already
        pass
    if close:
        process.close()  # a KILL also drops the channel, so the local side ends at once


def start_channel(conn: Any, line: str, stdin: Any, stdout: Any, stderr: Any) -> ChannelProcess:
    """Start shell ``line`` on ``conn`` with subprocess-style stream arguments; returns at once.

    The OS pipes are made here; the channel opens on tether's SSH loop, and
    ``handle.opening`` resolves when it is open (or raises why not). Async
    callers await it (``asyncio.wrap_future``) without blocking their loop;
    blocking callers use :func:`start_process`. A handle whose opening failed
    has already ended (``wait()`` returns), its pipes closed on our side.
    """
    ends: dict[str, Any] = {}
    given: list[int] = []  # fds for asyncssh: ours to close until redirect() takes them
    try:
        remote_in = _source(stdin, ends, given)
        remote_out = _target(stdout, "stdout", ends, given)
        remote_err = subprocess.STDOUT if stderr == subprocess.STDOUT else _target(stderr, "stderr", ends, given)
    except BaseException:
        _close_all(ends, given)
        raise
    handle = ChannelProcess(None, ends.get("stdin"), ends.get("stdout"), ends.get("stderr"), concurrent.futures.Future())
    streams = (remote_in, remote_out, remote_err)
    handle.opening = ssh_portal.submit(_open_channel, handle, conn, line, streams, given)
    return handle


def start_process(conn: Any, line: str, stdin: Any, stdout: Any, stderr: Any) -> ChannelProcess:
    """:func:`start_channel`, waiting until the channel is open (for blocking callers, off the SSH loop)."""
    handle = start_channel(conn, line, stdin, stdout, stderr)
    try:
        handle.opening.result()
    except BaseException:
        handle.opening.cancel()
        for end in (handle.stdin, handle.stdout, handle.stderr):
            if end is not None:
                end.close()
        raise
    return handle


async def _open_channel(handle: ChannelProcess, conn: Any, line: str, streams: tuple, given: list[int]) -> None:
    done = handle._done
    try:
        command = line.encode("utf-8", "surrogateescape")  # a name that is not UTF-8 travels as its bytes
        process = await open_with_retry(lambda: conn.create_process(command, encoding=None))
    except BaseException as exc:
        _close_all({}, given)
        done.set_exception(exc if isinstance(exc, Exception) else ConnectionAbortedError("channel open cancelled"))
        raise
    bound_receive_buffer(process.channel)
    handle._process = process
    # output that arrived meanwhile is buffered by asyncssh and passed on here
    remote_in, remote_out, remote_err = streams
    try:
        await process.redirect(stdin=remote_in, stdout=remote_out, stderr=remote_err)
    except BaseException as exc:  # the connection went meanwhile: the handle ends too
        process.close()
        done.set_exception(exc if isinstance(exc, Exception) else ConnectionAbortedError("channel open cancelled"))
        raise

    async def watch() -> None:
        try:
            done.set_result(exit_code(await process.wait(check=False)))
        except BaseException as exc:  # connection lost
            done.set_exception(exc)

    handle.watcher = asyncio.get_running_loop().create_task(watch())  # referenced: not collected mid-flight


def _close_all(ends: dict[str, Any], given: list[int]) -> None:
    for end in ends.values():
        end.close()
    for fd in given:
        os.close(fd)


def exit_code(result: Any) -> int:
    """subprocess-style: the exit status, ``-N`` for signal N, 255 when the server sent neither."""
    code = result.exit_status
    if code is not None and code >= 0:
        return int(code)
    name = result.exit_signal[0] if result.exit_signal else None
    return -int(getattr(signal, f"SIG{name}", signal.SIGKILL)) if name else 255


async def open_with_retry(open_channel: Any, patience: float = 10.0) -> Any:
    """Open a channel, waiting while the server refuses it for lack of sessions.

    tether keeps below sshd's MaxSessions, but the server frees a session
    only once it has processed our close of the last one, a moment after we
    consider it closed; so a refusal right then is retried, not reported.
    """
    from .asyncssh_import import asyncssh

    deadline = asyncio.get_running_loop().time() + patience
    delay = 0.001
    while True:
        try:
            return await open_channel()
        except asyncssh.ChannelOpenError as exc:
            # sshd answers "open failed" (code 2) at its MaxSessions; a closed
            # connection also says code 2, but "SSH connection closed"
            refused = exc.code in _REFUSALS and "closed" not in str(exc.reason)
            if not refused or asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


async def run_collected(conn: Any, line: str) -> tuple[int, bytes, bytes]:
    """Run ``line`` with no input and return ``(exit code, stdout, stderr)``: one round of the loop."""
    result = await open_with_retry(lambda: conn.run(line, stdin=subprocess.DEVNULL, encoding=None, check=False))
    return exit_code(result), result.stdout or b"", result.stderr or b""


def _source(stdin: Any, ends: dict, given: list[int]) -> Any:
    """What asyncssh reads the remote stdin from (it takes ownership of an fd)."""
    if stdin == subprocess.DEVNULL:
        return subprocess.DEVNULL
    if stdin == subprocess.PIPE:
        read_fd, write_fd = os.pipe()
        ends["stdin"] = os.fdopen(write_fd, "wb", buffering=0)
        fd = read_fd
    else:
        fd = os.dup(0 if stdin is None else stdin)
    given.append(fd)
    return fd


def _target(stream: Any, name: str, ends: dict, given: list[int]) -> Any:
    """Where asyncssh writes the remote stdout/stderr (it takes ownership of an fd)."""
    if stream == subprocess.DEVNULL:
        return subprocess.DEVNULL
    if stream == subprocess.PIPE:
        read_fd, write_fd = os.pipe()
        ends[name] = os.fdopen(read_fd, "rb", buffering=0)
        fd = write_fd
    else:
        fd = os.dup((1 if name == "stdout" else 2) if stream is None else stream)
    given.append(fd)
    return fd
