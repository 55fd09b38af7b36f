"""The program the agent runs on the remote interpreter (shipped as source; stdlib only).

Nothing here is imported by the controller: :mod:`tether.agent.bootstrap`
ships this file's text, with the codec and the framing, to ``python3 -I``
on the target, where it runs as ``tether_agent_main`` and ``main(config)``
is called. So it must run on any Python 3.7+ with nothing but the stdlib.

Threads on the remote side::

    main thread     reads frames from the protocol pipe, dispatches them
    workers         a small pool (grows to config["threads"]) running calls
    channel threads one per remote_exec() source, for its whole life
    heartbeat       pings the controller; exits when the controller is gone

The protocol pipe is a PRIVATE copy of the original stdin/stdout (os.dup):
fd 0 then reads /dev/null and fd 1 goes to stderr, so a print() in shipped
code, or a child process writing to its inherited stdout, cannot corrupt a
frame.
"""

import os
import sys
import threading
import time
import types

try:  # the C queue alone: the queue module would pull in heapq for nothing
    from _queue import Empty, SimpleQueue
except ImportError:  # pragma: no cover - unusual builds
    from queue import Empty, SimpleQueue

# logging, traceback, linecache and signal are imported only when needed: on
# a small remote host, importing logging alone costs more than starting Python

codec = sys.modules["tether_agent_codec"]
framing = sys.modules["tether_agent_framing"]

_CLOSED = object()  # channel queue sentinel


class Agent:
    def __init__(self, fd_in, fd_out, config):
        self.fd_in = fd_in
        self.fd_out = fd_out
        self.max_frame = config["max_frame"]
        self.heartbeat = config["heartbeat"]
        self.max_threads = config["threads"]
        self.modules = {}
        self.channels = {}
        self.cancelled = set()
        self.last_seen = time.monotonic()
        self._out = []  # frames waiting to be written (whoever holds _writing writes them)
        self._out_lock = threading.Lock()
        self._writing = False
        self._work: SimpleQueue = SimpleQueue()
        self._idle = 0
        self._threads = 0
        self._pool_lock = threading.Lock()

    # -- output: frames from any thread, coalesced into few writes -----------------
    def send(self, kind, ident, value):
        frame = framing.pack(kind, ident, codec.encode_parts(value), self.max_frame)
        with self._out_lock:
            self._out.append(frame)
            if self._writing:
                return  # the thread that is writing will take it
            self._writing = True
        while True:
            with self._out_lock:
                if not self._out:
                    self._writing = False
                    return
                data = b"".join(self._out)
                self._out.clear()
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self.fd_out, view) :]
            except OSError:  # the controller is gone
                self.shutdown()

    # -- input ----------------------------------------------------------------
    def serve(self):
        decoder = framing.FrameDecoder(self.max_frame)
        handlers = {
            framing.LOAD: self.on_load, framing.CALL: self.on_call, framing.OPEN: self.on_open,
            framing.DATA: self.on_data, framing.CLOSE: self.on_close, framing.CANCEL: self.on_cancel,
        }
        while True:
            try:
                data = os.read(self.fd_in, 1 << 20)
            except OSError:
                data = b""
            if not data:
                self.shutdown()  # the controller closed our stdin: it is done or gone
            self.last_seen = time.monotonic()
            try:
                frames = decoder.feed(data)
            except ValueError:  # an oversized or garbled length: the stream is lost
                self.shutdown()
            for kind, ident, payload in frames:
                handler = handlers.get(kind)
                if handler is not None:
                    handler(ident, payload)
                elif kind == framing.EXIT:
                    self.shutdown()

    def submit(self, fn, *args):
        """Run fn(*args) on a worker; start one more while all are busy (up to the limit)."""
        with self._pool_lock:
            grow = self._idle <= 0 and self._threads < self.max_threads
            if grow:
                self._threads += 1
            else:
                self._idle -= 1  # this task takes an idle worker (or queues)
        if grow:
            threading.Thread(target=self._worker, args=(fn, args), daemon=True).start()
        else:
            self._work.put((fn, args))

    def _worker(self, fn, args):
        while True:
            try:
                fn(*args)
            except BaseException:  # a worker never dies with the agent's state half-updated
                pass
            fn = args = None
            with self._pool_lock:
                self._idle += 1
            fn, args = self._work.get()

    # -- modules and calls ------------------------------------------------------------
    def on_load(self, ident, payload):
        self.submit(self.load, ident, payload)

    def load(self, ident, payload):
        try:
            name, source = codec.decode(payload)
            module = types.ModuleType(name)
            module.__file__ = remember_source(name, source)
            exec(compile(source, module.__file__, "exec"), module.__dict__)
            self.modules[ident] = module
            functions = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_"))
            self.send(framing.RESULT, ident, functions)
        except BaseException as exc:
            self.send(framing.ERROR, ident, error_payload(exc))

    def on_call(self, ident, payload):
        self.submit(self.call, ident, payload)

    def call(self, ident, payload):
        try:
            module_id, name, args, kwargs = codec.decode(payload)
            result = getattr(self.modules[module_id], name)(*args, **kwargs)
            if isinstance(result, types.GeneratorType):
                self.stream(ident, result)
            else:
                self.send(framing.RESULT, ident, result)
        except BaseException as exc:
            self.send(framing.ERROR, ident, error_payload(exc))

    def stream(self, ident, generator):
        self.send(framing.GENERATOR, ident, None)
        try:
            for item in generator:
                if ident in self.cancelled:
                    break
                self.send(framing.YIELD, ident, item)
        finally:
            generator.close()
            self.cancelled.discard(ident)
        self.send(framing.END, ident, None)

    def on_cancel(self, ident, payload):
        self.cancelled.add(ident)

    # -- channels (remote_exec) ------------------------------------------------------
    def on_open(self, ident, payload):
        channel = self.channels[ident] = Channel(self, ident)
        threading.Thread(target=self.run_channel, args=(channel, payload), daemon=True).start()

    def run_channel(self, channel, payload):
        error = None
        try:
            source, name = codec.decode(payload)
            namespace = {"__name__": "__channelexec__", "channel": channel, "__file__": remember_source(name, source)}
            exec(compile(source, namespace["__file__"], "exec"), namespace)
        except BaseException as exc:
            error = error_payload(exc)
        self.channels.pop(channel.ident, None)
        if not channel.sent_close:
            channel.sent_close = True
            self.send(framing.CLOSE, channel.ident, error)

    def on_data(self, ident, payload):
        channel = self.channels.get(ident)
        if channel is not None:
            channel.inbox.put(payload)

    def on_close(self, ident, payload):
        channel = self.channels.get(ident)
        if channel is not None:
            channel.inbox.put(_CLOSED)

    # -- heartbeat and exit -------------------------------------------------------------
    def watch(self):
        while True:
            time.sleep(self.heartbeat)
            if time.monotonic() - self.last_seen > 3 * self.heartbeat:
                self.shutdown()  # no frame, not even a ping: the controller is gone
            self.send(framing.PING, 0, None)

    def shutdown(self):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        kill_descendants(os.getpid())
        os._exit(0)


class Channel:
    """The ``channel`` object a remote_exec() source sees (execnet's shape)."""

    def __init__(self, agent, ident):
        self.agent = agent
        self.ident = ident
        self.inbox: SimpleQueue = SimpleQueue()
        self.closed = False
        self.sent_close = False

    def send(self, item):
        if self.sent_close:
            raise OSError("cannot send on a closed channel")
        self.agent.send(framing.DATA, self.ident, item)

    def receive(self, timeout=None):
        if self.closed:
            raise EOFError("the channel is closed")
        try:
            payload = self.inbox.get(timeout=timeout)
        except Empty:
            raise TimeoutError(f"no item within {timeout} s") from None
        if payload is _CLOSED:
            self.closed = True
            raise EOFError("the channel is closed")
        return codec.decode(payload)

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return self.receive()
        except EOFError:
            raise StopIteration from None

    next = __next__

    def isclosed(self):
        return self.closed or self.sent_close

    def close(self, error=None):
        if not self.sent_close:
            self.sent_close = True
            self.agent.send(framing.CLOSE, self.ident, None if error is None else [
                "RuntimeError", "RuntimeError", str(error), "", []])


def remember_source(name, source):
    """A file name for shipped source, whose lines tracebacks can then show."""
    import linecache

    filename = f"<tether:{name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return filename


def error_payload(exc):
    """[type name, builtin base, message, traceback, args]: what the controller rebuilds."""
    import traceback

    cls = type(exc)
    builtin = next((c.__name__ for c in cls.__mro__ if c.__module__ == "builtins"), None)
    name = cls.__qualname__ if cls.__module__ in ("builtins", "__main__") else cls.__module__ + "." + cls.__qualname__
    args = list(exc.args)
    if isinstance(exc, OSError) and exc.filename is not None:  # OSError keeps these out of args
        args = [exc.errno, exc.strerror, exc.filename]
    try:
        codec.encode(args)
    except Exception:
        args = []
    tb = exc.__traceback__
    if tb is not None and tb.tb_next is not None:
        tb = tb.tb_next  # the agent's own frame (where it called the code) tells the user nothing
    text = "".join(traceback.format_exception(cls, exc, tb))
    return [name, builtin, str(exc), text, args]


def forward_logging(agent, level):
    """Send every logging record to the controller (as tether.remote.<host> there)."""
    import logging

    class ForwardHandler(logging.Handler):
        def emit(self, record):
            try:
                message = record.getMessage()
                if record.exc_info:
                    message += "\n" + logging.Formatter().formatException(record.exc_info)
                agent.send(framing.LOG, 0, [
                    record.name, record.levelno, message, record.pathname, record.lineno, record.funcName or ""])
            except Exception:
                self.handleError(record)

    root = logging.getLogger()
    root.addHandler(ForwardHandler())
    root.setLevel(level)


class LoggingHook:
    """A meta-path finder that sets up forwarding the moment shipped code imports logging.

    So the agent does not pay for importing logging at start, and no record
    is lost: the handler is in place before the importer's next line runs.
    """

    def __init__(self, agent, level):
        self.agent, self.level = agent, level

    def find_spec(self, name, path=None, target=None):
        if name != "logging":
            return None
        sys.meta_path.remove(self)
        import importlib.util

        spec = importlib.util.find_spec("logging")  # the real one, from the other finders
        if spec is not None and spec.loader is not None:
            spec.loader = _ThenForward(spec.loader, self.agent, self.level)  # type: ignore[assignment]
        return spec


class _ThenForward:
    """A loader wrapper: load logging as usual, then add the forwarding handler."""

    def __init__(self, loader, agent, level):
        self.loader, self.agent, self.level = loader, agent, level

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        forward_logging(self.agent, self.level)

    def __getattr__(self, name):  # get_source, is_package, ...: the real loader's
        return getattr(self.loader, name)


def kill_descendants(root):
    """SIGKILL every process below ``root`` (children of shipped code must not outlive the agent)."""
    todo = children_of(root)
    while todo:
        pid = todo.pop()
        todo.extend(children_of(pid))
        try:
            os.kill(pid, 9)  # SIGKILL (the signal module costs an import of enum)
        except OSError:
            pass


def children_of(pid):
    """Direct children of ``pid``: /proc/PID/task/*/children where the kernel has it."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list = []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found.extend(int(p) for p in f.read().split())
        except FileNotFoundError:
            return scan_children(pid)  # a kernel without the children file
        except OSError:
            continue
    return found


def scan_children(root):
    """Children of ``root`` from every /proc/*/stat (slow: only where nothing better exists)."""
    parents: dict = {}
    try:
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", "rb") as f:
                        stat = f.read()
                except OSError:
                    continue
                fields = stat[stat.rfind(b")") + 2 :].split()
                parents.setdefault(int(fields[1]), []).append(int(entry))
    except OSError:  # no /proc: nothing more we can do portably
        return []
    return parents.get(root, [])


def main(config):
    # the protocol pipe: private copies; fd 0 and 1 of this process go elsewhere
    fd_in, fd_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    os.close(devnull)
    try:  # prints reach the controller's log as they happen, not at exit
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    except AttributeError:  # Python < 3.7
        pass
    agent = Agent(fd_in, fd_out, config)
    if "logging" in sys.modules:
        forward_logging(agent, config["log_level"])
    else:
        sys.meta_path.insert(0, LoggingHook(agent, config["log_level"]))
    version = ".".join(str(n) for n in sys.version_info[:3])
    os.write(fd_out, framing.ready_line(os.getpid(), version))
    threading.Thread(target=agent.watch, daemon=True).start()
    agent.serve()
