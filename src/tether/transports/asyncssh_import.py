"""The one place tether imports asyncssh: quiet about its dependencies, checked against our range.

Every module that needs asyncssh does ``from .asyncssh_import import asyncssh``
(lazily, inside the function that needs it, so ``import tether`` stays fast).
Importing through here does two things once:

- It hides cryptography's ``CryptographyDeprecationWarning`` raised *from
  asyncssh's modules* (cryptography 51 deprecates DSA, and asyncssh imports
  its DSA classes at import time and on first key use). Users of tether
  cannot act on it, and it used to print 5-10 lines on every CLI call. The
  filter names that category and asyncssh's modules only: a deprecation
  warning from the user's own code, or from cryptography used directly,
  still shows.
- It checks the installed asyncssh is in :data:`SUPPORTED` and has the
  internals :mod:`tether.transports.ssh_window` relies on; when not, it
  raises :class:`~tether.exceptions.DependencyError` naming the range,
  instead of an AttributeError deep inside a transfer.
"""

from __future__ import annotations

import re
import warnings

from ..exceptions import DependencyError

#: the asyncssh releases tether is tested with (pyproject.toml declares the same range)
SUPPORTED = ">=2.23.1,<3"
_LOWEST, _BELOW = (2, 23, 1), (3,)

#: private parts of asyncssh.channel.SSHChannel that ssh_window patches
CHANNEL_INTERNALS = ("_deliver_data", "send_packet")


def _quiet_deprecations() -> None:
    try:
        from cryptography.utils import CryptographyDeprecationWarning
    except ImportError:  # an older cryptography without the class: nothing to hide
        return
    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning, module=r"asyncssh(\.|$)")


def version_tuple(version: str) -> tuple[int, ...]:
    """``"2.24.1"`` -> ``(2, 24, 1)``; pre-release tails are ignored."""
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3])


def check_supported(version: str, has_internals: bool) -> None:
    """Raise DependencyError unless ``version`` is in SUPPORTED and the internals are there."""
    found = version_tuple(version)
    if not (_LOWEST <= found < _BELOW):
        raise DependencyError(
            f"tether needs asyncssh {SUPPORTED}; asyncssh {version} is installed "
            f"(pip install 'asyncssh{SUPPORTED}')",
            "asyncssh", version, SUPPORTED,
        )
    if not has_internals:
        raise DependencyError(
            f"asyncssh {version} lacks SSHChannel.{'/'.join(CHANNEL_INTERNALS)}, which tether uses to bound "
            f"a slow reader's memory; tether is tested with asyncssh {SUPPORTED}",
            "asyncssh", version, SUPPORTED,
        )


_quiet_deprecations()
import asyncssh  # noqa: E402 - the filter must be in place first
import asyncssh.channel  # noqa: E402

check_supported(
    asyncssh.__version__, all(hasattr(asyncssh.channel.SSHChannel, name) for name in CHANNEL_INTERNALS)
)

__all__ = ["SUPPORTED", "asyncssh", "check_supported"]
