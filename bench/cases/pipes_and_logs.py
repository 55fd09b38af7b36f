"""Pipes (``tether.pipe``) and multiprocess logging (``tether.logs``) against their floors.

sshpipe, the seed these replace, does not install on a current Python (its
sdist does not build), so the comparisons are with what the same work costs
without tether: a raw ``ssh`` process fed the same bytes, and the stdlib's
own QueueHandler/QueueListener pipeline writing the same records.
"""

from __future__ import annotations

from harness import Case, MedianBelow, NoSlowerThan, Variant

# a handler that consumes messages and writes nothing back but the protocol
_HANDLER = (
    "import os, sys, tempfile\n"
    "handler = os.path.join(tempfile.mkdtemp(), 'handler.py')\n"
    "with open(handler, 'w') as f:\n"
    "    f.write('from tether.pipe import PipeHandler\\n'\n"
    "            'class Sink(PipeHandler):\\n'\n"
    "            '    def handle(self, received):\\n'\n"
    "            '        pass\\n'\n"
    "            'Sink(logging_level=30).service_loop()\\n')\n"
    "PY = sys.executable\n"
)
_MESSAGE = "{'job': i, 'args': [1, 2, 3], 'note': 'x' * 100}"

_RAW_SSH = _HANDLER + """
import shlex, subprocess
from tether.pipe.frames import frame
SSH = ['ssh', '-F', fixture['ssh_config'], 'tether-test']
"""

_MPLOGGER = """
import logging, os, tempfile
from tether.logs import MpLogger
directory = tempfile.mkdtemp()
def log_10k():
    m = MpLogger(name='bench', logdir=directory, level_formats={'default': '%(asctime)s %(levelname)s %(message)s'},
                 maxBytes=1_000_000, backupCount=1000)
    log = m.start()
    for i in range(10_000):
        log.info('record %d of %s', i, 'the benchmark')
    m.stop()
"""

_STDLIB_LOGGING = """
import logging, logging.handlers, multiprocessing, os, tempfile
directory = tempfile.mkdtemp()
def log_10k():
    queue = multiprocessing.get_context('spawn').Queue()
    handler = logging.handlers.RotatingFileHandler(os.path.join(directory, 'bench.log'), maxBytes=1_000_000,
                                                   backupCount=1000)
    handler.setFormatter(logging.Formatter('%(asctime)s %(levelname)s %(message)s'))
    listener = logging.handlers.QueueListener(queue, handler)
    listener.start()
    log = logging.getLogger('bench-stdlib')
    log.propagate = False
    log.setLevel(logging.INFO)
    forward = logging.handlers.QueueHandler(queue)
    log.addHandler(forward)
    for i in range(10_000):
        log.info('record %d of %s', i, 'the benchmark')
    listener.stop()
    log.removeHandler(forward)
    handler.close()
    queue.close(); queue.join_thread()
"""

CASES = [
    Case(
        name="pipe.start",
        title="SshPipe: connect, start a handler, one message, close",
        variants=[
            Variant("tether SshPipe", "tether", _HANDLER + "from tether.pipe import SshPipe",
                    "p = SshPipe('tether-test', [PY, handler], config=fixture['ssh_config'])\n"
                    "p.start(); p.send('hello'); assert p.close()[0] == 0"),
            Variant("ssh + python -c 'import tether.pipe' (floor)", "tether", _RAW_SSH,
                    "subprocess.run([*SSH, shlex.join([PY, '-c', 'import tether.pipe'])], check=True)"),
        ],
        goals=[MedianBelow(1.5, "tether SshPipe", "start to close < 1.5 s"),
               NoSlowerThan("ssh + python -c 'import tether.pipe' (floor)", 2.0)],
        samples=10, number=1, warmup=1, budget=60, needs_sshd=True,
    ),
    Case(
        name="pipe.send",
        title="SshPipe.send: 1,000 small dict messages to a running handler",
        variants=[
            Variant("tether SshPipe", "tether",
                    _HANDLER + "from tether.pipe import SshPipe\n"
                    "p = SshPipe('tether-test', [PY, handler], config=fixture['ssh_config']); p.start()",
                    f"for i in range(1000): p.send({_MESSAGE})", "p.close()"),
            Variant("raw ssh stdin, pre-framed (floor)", "tether",
                    _RAW_SSH + "proc = subprocess.Popen([*SSH, 'cat', '>/dev/null'], stdin=subprocess.PIPE)",
                    f"for i in range(1000):\n    proc.stdin.write(frame({_MESSAGE})); proc.stdin.flush()",
                    "proc.stdin.close(); proc.wait()"),
        ],
        goals=[MedianBelow(0.5, "tether SshPipe", ">= 2,000 messages/s"),
               NoSlowerThan("raw ssh stdin, pre-framed (floor)", 2.0)],
        samples=15, number=1, warmup=1, budget=60, needs_sshd=True,
    ),
    Case(
        name="logs.mplogger",
        title="10,000 records through the listener into rotating files (start to stop)",
        variants=[
            Variant("tether MpLogger", "tether", _MPLOGGER, "log_10k()"),
            Variant("stdlib QueueListener", "tether", _STDLIB_LOGGING, "log_10k()"),
        ],
        goals=[NoSlowerThan("stdlib QueueListener", 1.5)],
        samples=10, number=1, warmup=1, budget=60,
    ),
]
