"""The options tether understands: how each keyword takes its value, and the form ``ssh -G`` prints.

The sets say how a keyword's value is read (raw command, one word, several
words, one entry per line) and which are flags or times; ``_normalize`` turns
a one-word value into what ``ssh -G`` prints, refusing what OpenSSH refuses
(``_convtime``, ``_a2port`` follow ``misc.c``). Keywords listed nowhere are
still kept and resolved (first value wins, words joined by one space).
"""

from __future__ import annotations

import re
import socket

from ..exceptions import SshConfigError
from .lexing import _C_SPACE, _lower

# raw rest-of-line values (quotes and comments kept, like OpenSSH's parse_command)
_COMMANDS = frozenset({"proxycommand", "localcommand", "remotecommand", "knownhostscommand"})
# every line adds one entry (duplicates dropped); lists in resolve()
_PER_LINE = frozenset(
    {"identityfile", "certificatefile", "localforward", "remoteforward", "dynamicforward"}
)
# one line holds several words; the first such line wins; lists in resolve()
_MULTI = frozenset(
    {
        "setenv", "userknownhostsfile", "globalknownhostsfile", "canonicaldomains",
        "canonicalizepermittedcnames", "permitremoteopen", "logverbose", "sendenv",
    }
)
# plain yes/no flags: ssh -G prints "yes"/"no" for yes|true / no|false
_FLAGS = frozenset(
    {
        "batchmode", "canonicalizefallbacklocal", "checkhostip", "clearallforwardings",
        "enablesshkeysign", "exitonforwardfailure", "forwardx11", "forwardx11trusted",
        "gatewayports", "gssapiauthentication", "gssapidelegatecredentials", "hashknownhosts",
        "hostbasedauthentication", "identitiesonly", "kbdinteractiveauthentication",
        "nohostauthenticationforlocalhost", "passwordauthentication", "permitlocalcommand",
        "proxyusefdpass", "stdinnull", "streamlocalbindunlink", "tcpkeepalive", "visualhostkey",
    }
)
_TIMES = frozenset({"connecttimeout", "serveraliveinterval", "forwardx11timeout"})
# take exactly one word (more is an error, as in OpenSSH)
_SINGLE = _FLAGS | _TIMES | {
    "port", "user", "hostname", "compression", "loglevel", "stricthostkeychecking",
    "forwardagent", "controlpath", "identityagent", "hostkeyalias", "identityfile",
    "certificatefile", "dynamicforward", "canonicalizehostname",
}  # fmt: skip
# block structure, not options: edits refuse them
_STRUCTURAL = frozenset({"host", "match", "include"})
_CLEAR_ON_NONE = ("localcommand", "remotecommand", "proxycommand", "controlpath", "knownhostscommand")
_YES_NO = {"yes": "yes", "true": "yes", "no": "no", "false": "no"}
_STRICT = {
    "yes": "true",
    "true": "true",
    "no": "false",
    "false": "false",
    "off": "false",
    "ask": "ask",
    "accept-new": "accept-new",
}
_LOG_LEVELS = {
    "quiet": "SILENT",
    "silent": "SILENT",
    "fatal": "FATAL",
    "error": "ERROR",
    "info": "INFO",
    "verbose": "VERBOSE",
    "debug": "DEBUG",
    "debug1": "DEBUG",
    "debug2": "DEBUG2",
    "debug3": "DEBUG3",
}
_CANONICALIZE = {"yes": "true", "true": "true", "no": "false", "false": "false", "always": "always"}
# keywords with a fixed set of words (any case): what ssh -G prints for each
_CHOICES: dict[str, dict[str, str]] = {
    **dict.fromkeys(_FLAGS, _YES_NO),
    "compression": {"yes": "yes", "no": "no"},
    "stricthostkeychecking": _STRICT,
    "loglevel": _LOG_LEVELS,
    "canonicalizehostname": _CANONICALIZE,
}
_TIME_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_INT_MAX = 2**31 - 1

# how new lines spell well-known keywords (existing lines keep their own spelling)
_CANONICAL_NAMES = {
    _lower(name): name
    for name in " ".join((
        "Host Match Include HostName User Port IdentityFile IdentitiesOnly CertificateFile "
        "ProxyCommand ProxyJump LocalCommand RemoteCommand PermitLocalCommand ControlMaster "
        "ControlPath ControlPersist ForwardAgent ForwardX11 Compression ServerAliveInterval "
        "ServerAliveCountMax ConnectTimeout ConnectionAttempts LogLevel StrictHostKeyChecking "
        "UserKnownHostsFile GlobalKnownHostsFile HostKeyAlias IdentityAgent LocalForward "
        "RemoteForward DynamicForward SendEnv SetEnv BatchMode PasswordAuthentication "
        "PubkeyAuthentication TCPKeepAlive AddKeysToAgent RequestTTY",
    )).split()
}


_STRTOL = re.compile(rf"[{_C_SPACE}]*([+-]?\d+)")


def _convtime(word: str) -> int | None:
    """``misc.c:convtime``: ``90``, ``5m``, ``1h30m``, ``+5`` to seconds; None if invalid."""
    if not word:
        return None
    total, i = 0, 0
    while i < len(word):
        m = _STRTOL.match(word, i)
        if m is None or int(m.group(1)) < 0:
            return None
        seconds, i = int(m.group(1)), m.end()
        unit = _lower(word[i : i + 1])
        if unit and unit not in "smhdw":
            return None
        i += len(unit)
        seconds *= _TIME_UNITS[unit]
        if seconds > _INT_MAX or total > _INT_MAX - seconds:
            return None
        total += seconds
    return total


def _a2port(word: str) -> int | None:
    """``misc.c:a2port``: a decimal (``strtonum`` rules) in 1..65535, or a TCP service name."""
    m = _STRTOL.fullmatch(word)
    if m is not None:
        port = int(m.group(1))
        return port if 0 < port <= 65535 else None
    try:
        return socket.getservbyname(word, "tcp") or None
    except OSError:
        return None


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _normalize(kw: str, words: list[str], where: str) -> str:
    """One-word value of ``kw`` in the form ``ssh -G`` prints it; errors like OpenSSH's."""
    if len(words) > 1:
        raise SshConfigError(f"{where}: keyword {kw} extra arguments at end of line")
    word = words[0]
    low = _lower(word)
    table = _CHOICES.get(kw)
    if table is not None:
        if low not in table:
            raise SshConfigError(f"{where}: unsupported option {word!r} for {kw}")
        return table[low]
    if kw in _TIMES:
        seconds = _convtime(word)
        if seconds is None:
            raise SshConfigError(f"{where}: invalid time value {word!r} for {kw}")
        return str(seconds)
    if kw == "port":
        port = _a2port(word)
        if port is None:
            raise SshConfigError(f"{where}: bad port {word!r}")
        return str(port)
    if kw == "forwardagent":
        if low in _YES_NO:
            return _YES_NO[low]
        if word.startswith("$") and not _ENV_NAME.fullmatch(word[1:]):
            raise SshConfigError(f"{where}: invalid environment name {word!r} for {kw}")
    return word
