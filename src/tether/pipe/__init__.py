"""Message pipes to remote handler programs (seed 003's sshpipe).

::

    from tether.pipe import SshPipe, PipeHandler

:class:`SshPipe` (the caller's side, :mod:`tether.pipe.caller`) starts a
program on a machine and sends it messages; :class:`PipeHandler` (the
remote side, :mod:`tether.pipe.handler`) serves them. They speak
length-prefixed frames of :mod:`tether.codec` values
(:mod:`tether.pipe.frames`): nothing is pickled.
"""

from .caller import SshPipe
from .handler import (
    EXIT_ATEXIT,
    EXIT_ATSTART,
    EXIT_HANDLE,
    EXIT_OK,
    EXIT_UNREADABLE,
    TERM_MESSAGES,
    PipeHandler,
)

__all__ = [
    "EXIT_ATEXIT",
    "EXIT_ATSTART",
    "EXIT_HANDLE",
    "EXIT_OK",
    "EXIT_UNREADABLE",
    "TERM_MESSAGES",
    "PipeHandler",
    "SshPipe",
]
