"""The module of seed 002's examples, shipped to remote machines by tests/integration/test_agent.py."""

import logging
import os
import subprocess
import sys
import threading
import time

BARRIER = threading.Barrier(8, timeout=60)


class MyError(ValueError):
    pass


def listdir(path):
    return os.listdir(path)


def meet():
    """Returns only once 8 calls are inside at the same time (BrokenBarrierError otherwise)."""
    BARRIER.wait()
    return threading.get_ident()


def boom(path):
    with open(path) as f:
        return f.read()


def fail_custom(text):
    raise MyError(text)


def count(n):
    yield from range(n)


def noisy(n):
    print("a print from shipped code")
    sys.stdout.write("TETHER-AGENT/1 READY 1 3\n\x00\x00\x00\x10" * 3)
    sys.stdout.flush()
    os.write(1, b"\xff" * 64)
    subprocess.run(["echo", "a child's stdout"], check=True)
    logging.getLogger("seed_foo").warning("remote warning %d", n)
    logging.getLogger("seed_foo").debug("remote debug")
    return n + 1


def child_pid_of_sleeper(pidfile):
    """Starts a long child, records its pid, then blocks: for the kill tests."""
    child = subprocess.Popen(["sleep", "300"])
    with open(pidfile, "w") as f:
        f.write(str(child.pid))
    time.sleep(300)


def echo(value):
    return value


def big(size):
    return b"x" * size


if __name__ == '__channelexec__':
    for item in channel:  # noqa: F821 - the agent provides it
        channel.send(eval(item))  # noqa: F821
