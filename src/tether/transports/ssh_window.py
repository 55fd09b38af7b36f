"""Keep asyncssh's receive window honest, so a slow reader means bounded memory.

asyncssh (2.x) tops the channel's receive window back up to its full size
on every delivery once it falls below half, even while received data still
waits undelivered in the channel's buffer because the reader paused. Each
pause/resume cycle then lets the server send another window's worth: a
reader slower than the network makes memory grow without bound (measured:
114 MB held after 256 MB through a pipe read 1 % slower than it arrived).

:func:`bound_receive_buffer` replaces that step on one channel: the window
granted back never exceeds the full window minus what is still buffered,
so received-but-unread data stays under one window. It relies on asyncssh
internals: :mod:`tether.transports.asyncssh_import` checks at import that
asyncssh has them (else a DependencyError names the supported range); a
channel that still lacks one is left alone.
"""

from __future__ import annotations

from typing import Any


def bound_receive_buffer(chan: Any) -> bool:
    """Patch ``chan`` (an asyncssh channel without text decoding); True if patched."""
    from .asyncssh_import import asyncssh

    MSG_CHANNEL_WINDOW_ADJUST = asyncssh.constants.MSG_CHANNEL_WINDOW_ADJUST
    UInt32 = asyncssh.packet.UInt32
    needed = ("_recv_buf", "_recv_window", "_init_recv_window", "_session", "send_packet", "_deliver_data")
    if not all(hasattr(chan, name) for name in needed) or getattr(chan, "_encoding", None):
        return False

    def deliver(data: bytes, datatype: Any) -> None:
        buffered = sum(len(item[0]) for item in chan._recv_buf)
        grant = chan._init_recv_window - buffered - chan._recv_window
        if chan._recv_window < chan._init_recv_window / 2 and grant > 0:
            chan.send_packet(MSG_CHANNEL_WINDOW_ADJUST, UInt32(grant))
            chan._recv_window += grant
        if chan._session is not None:
            chan._session.data_received(data, datatype)

    chan._deliver_data = deliver
    return True
