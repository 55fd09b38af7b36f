"""OpenSSH client configuration (``ssh_config``): read, resolve and edit it the way OpenSSH does.

Three jobs, one line-based model:

* **Lossless round trip.** ``dumps(loads(text)) == text`` for any text: every
  line keeps its bytes (comments, case, ``Key=Value``, quotes, tabs, CRLF,
  a missing final newline) until an edit touches that very line.
* **Resolution that agrees with ``ssh -G``** (checked against OpenSSH 9.2 by a
  differential property test): first obtained value wins, ``Host`` patterns
  with ``*``/``?``/``!``, ``Match`` (``all``, ``host``, ``originalhost``,
  ``user``, ``localuser``, ``canonical``, ``final``, ``exec`` on request), the
  ``Match final`` second pass, ``Include`` with globs, accumulating options,
  ``%`` tokens, ``${ENV}`` and ``~`` expansion where OpenSSH applies them.
* **Careful edits**: ``set``/``unset``/``add_host``/``remove_host`` rewrite only
  the lines they must and refuse values that would inject configuration.

The lexing helpers mirror OpenSSH's ``readconf.c``/``misc.c`` (``strdelim``,
``argv_split``, ``match_pattern``, ``percent_expand``, ``tilde_expand``) because
small differences there decide which ``Host`` block a value comes from.

Deliberate differences: unknown keywords are kept (OpenSSH refuses them unless
``IgnoreUnknown``), so configs written for newer OpenSSH still resolve; no DNS
canonicalisation (``CanonicalizeHostname`` only triggers the second pass); no
built-in defaults except ``hostname``, ``port`` and ``user``.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import re
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from .exceptions import HostBlockNotFound, SshConfigError

__all__ = [
    "HostBlockNotFound",
    "SshConfig",
    "SshConfigError",
    "dump",
    "dumps",
    "load",
    "loads",
]

PathArg = str | os.PathLike[str]
Value = str | int | bool | Iterable[str | int]


# --------------------------------------------------------------------------- lexing

_WS = " \t\r\n"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_MAX_INCLUDE_DEPTH = 16  # READCONF_MAX_DEPTH
_MAX_FILES = 100  # SSH_MAX_IDENTITY_FILES / SSH_MAX_CERTIFICATE_FILES


def _lower(s: str) -> str:
    """ASCII-only lowercase, as C ``tolower`` does it."""
    return s.translate(_ASCII_LOWER)


def _c_line(text: str) -> str:
    """The line as OpenSSH sees it: cut at NUL, trailing whitespace and \\f gone (never char 0)."""
    nul = text.find("\0")
    if nul >= 0:
        text = text[:nul]
    end = len(text)
    while end > 1 and text[end - 1] in _WS + "\f":
        end -= 1
    return text[:end]


_DELIM = re.compile(r'[ \t\r\n"=]')


def _strdelim(s: str | None) -> tuple[str | None, str | None]:
    """``misc.c:strdelim``: next word (quotes, one ``=``); returns (word, rest)."""
    if s is None:
        return None, None
    m = _DELIM.search(s)
    if m is None:
        return s, None
    i = m.start()
    if s[i] == '"':
        joined = s[:i] + s[i + 1 :]
        close = joined.find('"', i)
        if close < 0:
            return None, None
        return joined[:close], joined[close + 1 :].lstrip(_WS)
    rest = s[i + 1 :].lstrip(_WS)
    if s[i] != "=" and rest.startswith("="):
        rest = rest[1:].lstrip(_WS)
    return s[:i], rest


class _QuoteError(Exception):
    """An argument list ended inside a quote."""


def _argv_tokens(s: str) -> list[tuple[str, int, int]]:
    """``misc.c:argv_split`` with comments: (word, start, end) for each word of ``s``."""
    out: list[tuple[str, int, int]] = []
    i, n = 0, len(s)
    while i < n:
        if s[i] in " \t":
            i += 1
            continue
        if s[i] == "#":
            break
        start, quote, buf = i, "", []
        while i < n:
            c = s[i]
            nxt = s[i + 1] if i + 1 < n else ""
            if c == "\\" and (nxt in ("'", '"', "\\") or (not quote and nxt == " ")):
                buf.append(nxt)
                i += 2
                continue
            if not quote and c in " \t":
                break
            if not quote and c in "\"'":
                quote = c
            elif quote and c == quote:
                quote = ""
            else:
                buf.append(c)
            i += 1
        if quote:
            raise _QuoteError
        out.append(("".join(buf), start, i))
    return out


def _argv(s: str) -> list[str]:
    return [word for word, _, _ in _argv_tokens(s)]


def _head(text: str) -> tuple[str, str | None] | None:
    """(lowercase keyword, rest or None when missing) of a line; None for blank/comment lines."""
    line = _c_line(text)
    if not line:
        return None
    keyword, rest = _strdelim(line)
    if keyword == "":
        keyword, rest = _strdelim(rest)
    if not keyword or keyword[0] in "#\n":
        return None
    if rest is not None:
        rest = rest.lstrip(_WS)
    return _lower(keyword), rest or None


@lru_cache(maxsize=512)
def _pattern_re(pattern: str) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def _match_pattern(s: str, pattern: str) -> bool:
    """``match.c:match_pattern``: ``*`` and ``?`` only, case-sensitive."""
    return _pattern_re(pattern).fullmatch(s) is not None


def _match_list(s: str, patterns: str, dolower: bool) -> int:
    """``match_pattern_list``: 1 positive, -1 negated match, 0 none (comma-separated)."""
    positive = 0
    for sub in patterns.split(","):
        negated = sub.startswith("!")
        if negated:
            sub = sub[1:]
        if len(sub) >= 1023:  # OpenSSH's sub-pattern buffer: too long never matches
            return 0
        if _match_pattern(s, _lower(sub) if dolower else sub):
            if negated:
                return -1
            positive = 1
    return positive


def _match_hostname(host: str, patterns: str) -> bool:
    return _match_list(_lower(host), patterns, True) == 1


# --------------------------------------------------------------------------- expansion


def _percent_expand(
    s: str, tokens: Mapping[str, str], *, dollar: bool = False, what: str = "value"
) -> str:
    """``misc.c:percent_expand`` (+ ``${VAR}`` when ``dollar``); unknown tokens are errors."""
    out, i, n = [], 0, len(s)
    while i < n:
        c = s[i]
        if dollar and s.startswith("${", i):
            end = s.find("}", i + 2)
            if end < 0:
                raise SshConfigError(f"{what}: environment variable missing closing '}}'")
            name = s[i + 2 : end]
            if not name:
                raise SshConfigError(f"{what}: zero-length environment variable")
            if name not in os.environ:
                raise SshConfigError(f"{what}: env var ${{{name}}} has no value")
            out.append(os.environ[name])
            i = end + 1
            continue
        if c != "%":
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            raise SshConfigError(f"{what}: invalid format (trailing %)")
        key = s[i + 1]
        if key == "%":
            out.append("%")
        elif key in tokens:
            out.append(tokens[key])
        else:
            raise SshConfigError(f"{what}: unknown key %{key}")
        i += 2
    return "".join(out)


def _tilde_expand(path: str, home: str) -> str:
    """``misc.c:tilde_expand``: ``~``, ``~/x``, ``~user/x``; the result of ``~`` ends in ``/``."""
    if not path.startswith("~"):
        return path
    rest = path[1:]
    if rest == "" or rest.startswith("/"):
        base, tail = home, rest.lstrip("/")
    else:
        user, _, tail = rest.partition("/")
        try:
            base = pwd.getpwnam(user).pw_dir
        except KeyError:
            raise SshConfigError(f"tilde expansion: no such user {user}") from None
        tail = tail.lstrip("/")
    slash = "" if base.endswith("/") else "/"
    return f"{base}{slash}{tail}"


# --------------------------------------------------------------------------- option semantics

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
_AGENT_PATH = " forwardagent path"  # internal: cannot clash with a keyword
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


_C_SPACE = " \t\n\v\f\r"  # C isspace() in the C locale
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
    table = {"compression": {"yes": "yes", "no": "no"}, "stricthostkeychecking": _STRICT}.get(kw)
    if kw in _FLAGS:
        table = _YES_NO
    elif kw == "loglevel":
        table = _LOG_LEVELS
    elif kw == "canonicalizehostname":
        table = _CANONICALIZE
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


def _valid_hostname(host: str) -> bool:
    """OpenSSH refuses shell metacharacters in a host given on the command line."""
    bad = set("'`\"$\\;&<>|(){}" + _C_SPACE)
    return not host.startswith("-") and not any(c in bad or ord(c) < 32 or ord(c) == 127 for c in host)


def _valid_ruser(user: str) -> bool:
    """Same idea for a user name given on the command line (``-l``, ``user@host``)."""
    if user.startswith("-") or user.endswith("\\") or any(c in "'`\"$\\;&<>|(){}" for c in user):
        return False
    return re.search(rf"[{_C_SPACE}]-", user) is None


# --------------------------------------------------------------------------- resolution


@dataclass
class _LocalUser:
    name: str
    uid: int
    home: str


def _local_user(name: str | None) -> _LocalUser:
    if name is None:
        entry = pwd.getpwuid(os.getuid())
        return _LocalUser(entry.pw_name, entry.pw_uid, entry.pw_dir)
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return _LocalUser(name, os.getuid(), str(Path.home()))
    return _LocalUser(entry.pw_name, entry.pw_uid, entry.pw_dir)


def _split_lines(text: str) -> list[tuple[str, str]]:
    """(text, eol) pairs; only ``\\n`` ends a line, as for ``getline``."""
    parts = text.split("\n")
    lines = [(part, "\n") for part in parts[:-1]]
    if parts[-1]:
        lines.append((parts[-1], ""))
    return lines


def _read_text(path: PathArg) -> str:
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "surrogateescape")


class _Resolver:
    """One ``ssh -G`` run: two passes over the lines, then defaults and expansion."""

    def __init__(
        self,
        cfg: SshConfig,
        host: str,
        user: str | None,
        port: int | str | None,
        local_user: str | None,
        allow_exec: bool,
    ) -> None:
        self.cfg = cfg
        self.me = _local_user(local_user)
        self.allow_exec = allow_exec
        self.opts: dict[str, Any] = {}
        if "@" in host:
            at_user, _, host = host.rpartition("@")
            if not at_user:
                raise SshConfigError("empty user name before '@'")
            user = at_user if user is None else user
        if not host or not _valid_hostname(host):
            raise SshConfigError(f"hostname contains invalid characters: {host!r}")
        if user is not None:
            if not _valid_ruser(user):
                raise SshConfigError(f"remote username contains invalid characters: {user!r}")
            self.opts["user"] = user
        if port is not None:
            checked = _a2port(str(port))
            if checked is None:
                raise SshConfigError(f"bad port {port!r}")
            self.opts["port"] = str(checked)
        self.host_arg = host  # %n, "originalhost", the name Host lines see in pass 1
        self.host = host  # the name Host lines see (HostName-substituted in the final pass)
        self.final = False
        self.want_final = False

    # ---- passes

    def run(self, expand: bool) -> dict[str, Any]:
        self._process(self.cfg._texts(), self.cfg.name, True, False, 0)
        host = self.host_arg
        if "hostname" in self.opts:
            host = _percent_expand(self.opts["hostname"], {"h": host}, what="HostName")
        self.host = _canonical_host(host)
        canon = self.opts.get("canonicalizehostname", "false")
        if self.want_final or canon != "false":
            # OpenSSH re-reads everything; values already set stay (first wins)
            self.opts["hostname"] = self.host
            self.final = True
            self._process(self.cfg._texts(), self.cfg.name, True, False, 0)
        return self._finish(expand)

    def _process(self, texts: list[str], name: str, active: bool, never: bool, depth: int) -> None:
        for lineno, text in enumerate(texts, 1):
            head = _head(text)
            if head is None:
                continue
            kw, rest = head
            where = f"{name} line {lineno}"
            if rest is None:
                raise SshConfigError(f'{where}: no argument after keyword "{kw}"')
            try:
                words = _argv(rest)
            except _QuoteError:
                raise SshConfigError(f"{where}: invalid quotes") from None
            if kw == "host":
                active = self._host(words, where) and not never
            elif kw == "match":
                active = self._match(rest, where) and not never
            elif kw == "include":
                self._include(words, where, active, never, depth)
            else:
                self._option(kw, words, rest, active, where)

    def _host(self, patterns: list[str], where: str) -> bool:
        active = False
        for pattern in patterns:
            if not pattern:
                raise SshConfigError(f"{where}: keyword host empty argument")
            negated = pattern.startswith("!")
            if _match_pattern(self.host, pattern[1:] if negated else pattern):
                if negated:
                    return False  # a negated match excludes the block outright
                active = True
        return active

    def _include(self, words: list[str], where: str, active: bool, never: bool, depth: int) -> None:
        for word in words:
            if not word:
                raise SshConfigError(f"{where}: keyword include empty argument")
            path = word if word.startswith(("/", "~")) else os.path.join(self.cfg.base_dir, word)
            for found in sorted(glob.glob(os.path.expanduser(path))):
                if depth + 1 > _MAX_INCLUDE_DEPTH:
                    raise SshConfigError(f"{where}: too many recursive configuration includes")
                texts = self._read_include(found, where)
                # a Match/Host inside the file must not change the includer's state
                self._process(texts, found, active, never or not active, depth + 1)

    def _read_include(self, path: str, where: str) -> list[str]:
        try:
            st = os.stat(path)
            if stat.S_ISDIR(st.st_mode):
                return []
            if st.st_uid not in (0, os.getuid()) or st.st_mode & 0o022:
                raise SshConfigError(f"{where}: bad owner or permissions on {path}")
            return [text for text, _ in _split_lines(_read_text(path))]
        except OSError as e:
            raise SshConfigError(f"{where}: can't open included file {path}: {e}") from None

    # ---- Match

    def _match(self, rest: str, where: str) -> bool:
        """``readconf.c:match_cfg_line``; raises where OpenSSH reports a bad condition."""
        result, attributes = True, 0
        cp: str | None = rest
        while True:
            attrib, cp = _strdelim(cp)
            if not attrib:
                break
            if attrib.startswith("#"):
                cp = None
                break
            negate = attrib.startswith("!")
            name = _lower(attrib[1:] if negate else attrib)
            if name == "all":
                arg, cp = _strdelim(cp)
                if attributes > 1 or (arg and not arg.startswith("#")):
                    raise SshConfigError(
                        f"{where}: '{attrib}' cannot be combined with other Match attributes"
                    )
                return result and not negate
            attributes += 1
            if name in ("canonical", "final"):
                self.want_final = self.want_final or name == "final"
                if self.final == negate:
                    result = False
                continue
            arg, cp = _strdelim(cp)
            if not arg or arg.startswith("#"):
                raise SshConfigError(f"{where}: missing Match criteria for {attrib}")
            if self._criterion(name, arg, result, where) == negate:
                result = False
        if attributes == 0:
            raise SshConfigError(f"{where}: one or more attributes required for Match")
        if cp:
            raise SshConfigError(f"{where}: keyword match extra arguments at end of line")
        return result

    def _match_host(self) -> str:
        """The name ``Match host`` sees: HostName (as substituted so far), else the argument."""
        if self.final:
            return str(self.opts["hostname"])
        if "hostname" in self.opts:
            return _percent_expand(self.opts["hostname"], {"h": self.host_arg}, what="HostName")
        return self.host_arg

    def _criterion(self, name: str, arg: str, result: bool, where: str) -> bool | None:
        """Whether one ``Match`` criterion holds (None: an ``exec`` skipped after a failure)."""
        ruser = self.opts.get("user", self.me.name)
        if name == "host":
            return _match_hostname(self._match_host(), arg)
        if name == "originalhost":
            return _match_hostname(self.host_arg, arg)
        if name == "user":
            return _match_list(ruser, arg, False) == 1
        if name == "localuser":
            return _match_list(self.me.name, arg, False) == 1
        if name == "exec":
            cmd = self._exec_command(arg, ruser, where)
            return self._exec(cmd, where) if result else None
        raise SshConfigError(f"{where}: unsupported Match attribute {name}")

    def _exec_command(self, command: str, ruser: str, where: str) -> str:
        host, port = self._match_host(), self.opts.get("port", "22")
        this, short = _this_host()
        tokens = {
            "C": _connection_hash(this, host, port, ruser),
            "L": short,
            "d": self.me.home,
            "h": host,
            "k": self.opts.get("hostkeyalias", host),
            "l": this,
            "n": self.host_arg,
            "p": port,
            "r": ruser,
            "u": self.me.name,
            "i": str(self.me.uid),
        }
        return _percent_expand(command, tokens, what=f"{where}: Match exec")

    def _exec(self, cmd: str, where: str) -> bool:
        if not self.allow_exec:
            raise SshConfigError(
                f"{where}: Match exec {cmd!r} refused (pass allow_exec=True to run it)"
            )
        shell = os.environ.get("SHELL") or "/bin/sh"  # OpenSSH runs it under the user's shell
        done = subprocess.run(
            [shell, "-c", cmd], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=False
        )
        if done.returncode < 0:
            raise SshConfigError(f"{where}: match exec {cmd!r} error (signal {-done.returncode})")
        return done.returncode == 0

    # ---- options

    def _option(self, kw: str, words: list[str], rest: str, active: bool, where: str) -> None:
        if kw in _COMMANDS:
            self._command(kw, rest.lstrip(_WS + "="), active)
            return
        if not words or words[0] == "":
            raise SshConfigError(f"{where}: missing argument for {kw}")
        if kw == "proxyjump":
            self._proxyjump(rest.lstrip(_WS + "="), active)
        elif kw == "sendenv":
            self._sendenv(words, active, where)
        elif kw == "setenv":
            self._setenv(words, active, where)
        elif kw in _PER_LINE:
            value = _normalize(kw, words, where) if kw in _SINGLE else " ".join(words)
            self._append(kw, value, active, where)
        elif kw in _MULTI:
            if active and kw not in self.opts:
                self.opts[kw] = list(words)
        elif kw == "forwardagent":
            self._forwardagent(_normalize(kw, words, where), active)
        else:
            value = _normalize(kw, words, where) if kw in _SINGLE else " ".join(words)
            if active and kw not in self.opts:
                self.opts[kw] = value

    def _command(self, kw: str, value: str, active: bool) -> None:
        if active and kw not in self.opts:
            self.opts[kw] = value

    def _proxyjump(self, value: str, active: bool) -> None:
        value = value.split("#", 1)[0].rstrip(_WS)
        if not active or "proxycommand" in self.opts or "proxyjump" in self.opts:
            return  # ProxyJump and ProxyCommand exclude each other; the first one wins
        self.opts["proxyjump"] = value
        if _lower(value) != "none":
            self.opts["proxycommand"] = "none"

    def _forwardagent(self, value: str, active: bool) -> None:
        """The yes/no flag and the socket path are separate settings in OpenSSH, each first-wins."""
        if not active:
            return
        self.opts.setdefault("forwardagent", "yes" if value not in ("yes", "no") else value)
        if value not in ("yes", "no"):
            self.opts.setdefault(_AGENT_PATH, value)

    def _append(self, kw: str, value: str, active: bool, where: str) -> None:
        if not active:
            return
        values = self.opts.setdefault(kw, [])
        if value in values:
            return
        if kw in ("identityfile", "certificatefile") and len(values) >= _MAX_FILES:
            raise SshConfigError(f"{where}: too many {kw} entries (max {_MAX_FILES})")
        values.append(value)

    def _sendenv(self, words: list[str], active: bool, where: str) -> None:
        for word in words:
            if not word or "=" in word:
                raise SshConfigError(f"{where}: invalid environment name {word!r}")
            if not active:
                continue
            names = self.opts.setdefault("sendenv", [])
            if word.startswith("-"):
                names[:] = [name for name in names if not _match_pattern(name, word[1:])]
            else:
                names.append(word)  # OpenSSH appends even duplicates

    def _setenv(self, words: list[str], active: bool, where: str) -> None:
        if any("=" not in word for word in words):
            raise SshConfigError(f"{where}: invalid SetEnv")
        if not active or "setenv" in self.opts:
            return
        kept: list[str] = []
        for word in words:
            if word.split("=", 1)[0] not in (k.split("=", 1)[0] for k in kept):
                kept.append(word)
        self.opts["setenv"] = kept

    # ---- result

    def _finish(self, expand: bool) -> dict[str, Any]:
        opts = {k: list(v) if isinstance(v, list) else v for k, v in self.opts.items()}
        opts["hostname"] = self.host
        opts.setdefault("port", "22")
        opts.setdefault("user", self.me.name)
        path = opts.pop(_AGENT_PATH, None)
        if path is not None and opts["forwardagent"] == "yes":
            # ssh -G would print the path even after "ForwardAgent no"; ssh then forwards nothing
            opts["forwardagent"] = path
        if "hostkeyalias" in opts:
            opts["hostkeyalias"] = _lower(str(opts["hostkeyalias"]))  # ssh lowercases it
        if opts.get("batchmode") == "yes":
            opts.setdefault("serveraliveinterval", "300")  # ssh's batch-mode default
        for key in _CLEAR_ON_NONE:
            if opts.get(key) == "none":
                del opts[key]
        if _lower(str(opts.get("proxyjump", ""))) == "none":
            del opts["proxyjump"]
        if not opts.get("sendenv", True):
            del opts["sendenv"]
        if expand:
            self._expand(opts)
        return opts

    def _expand(self, opts: dict[str, Any]) -> None:
        this, short = _this_host()
        tokens = {
            "C": _connection_hash(this, opts["hostname"], opts["port"], opts["user"]),
            "L": short,
            "i": str(self.me.uid),
            "k": opts.get("hostkeyalias", self.host_arg),
            "l": this,
            "n": self.host_arg,
            "p": opts["port"],
            "d": self.me.home,
            "h": opts["hostname"],
            "r": opts["user"],
            "u": self.me.name,
        }

        def path(value: str, what: str) -> str:
            return _percent_expand(_tilde_expand(value, self.me.home), tokens, dollar=True, what=what)

        for key in ("controlpath", "identityagent"):
            if key in opts:
                opts[key] = path(opts[key], key)
        if opts.get("forwardagent", "no") not in ("yes", "no"):
            opts["forwardagent"] = path(opts["forwardagent"], "forwardagent")
        if "userknownhostsfile" in opts:
            opts["userknownhostsfile"] = [path(v, "userknownhostsfile") for v in opts["userknownhostsfile"]]
        for key in ("identityfile", "certificatefile"):
            if key in opts:
                kept = [path(v, key) for v in opts[key] if _lower(v) != "none"]
                opts[key] = kept
                if not kept:
                    del opts[key]
        if "remotecommand" in opts:
            opts["remotecommand"] = _percent_expand(opts["remotecommand"], tokens, what="remotecommand")
        if "localcommand" in opts:
            local = {**tokens, "T": "NONE"}
            opts["localcommand"] = _percent_expand(opts["localcommand"], local, what="localcommand")
        if "proxycommand" in opts:
            proxy = {k: tokens[k] for k in "hknpr"}
            opts["proxycommand"] = _percent_expand(opts["proxycommand"], proxy, what="proxycommand")


def _numeric_address(host: str) -> str | None:
    """The address as ``getnameinfo(NI_NUMERICHOST)`` prints it, if ``host`` is a literal."""
    try:
        if ":" in host:
            return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, host))
        if re.fullmatch(r"[0-9A-Fa-fxX.]+", host):
            # inet_aton's legacy forms count too: "22" is 0.0.0.22, "010.1" is 8.0.0.1
            return socket.inet_ntoa(socket.inet_aton(host))
    except (OSError, ValueError):
        pass
    return None


def _canonical_host(host: str) -> str:
    """The name ssh connects to: lowercased; an address literal in numeric form unless that
    differs from the original only in case (``ssh.c:resolve_canonicalize``)."""
    numeric = _numeric_address(host)
    if numeric is None:
        return _lower(host)
    return host if _lower(numeric) == _lower(host) else numeric


def _this_host() -> tuple[str, str]:
    """(%l, %L): this machine's name, full and up to the first dot."""
    name = socket.gethostname()
    return name, name.split(".", 1)[0]


def _connection_hash(this: str, host: str, port: str, user: str) -> str:
    """%C: SHA-1 of local host, remote host, port and user (OpenSSH 9.2)."""
    return hashlib.sha1((this + host + port + user).encode("utf-8", "surrogateescape")).hexdigest()


# --------------------------------------------------------------------------- the model


@dataclass
class _Line:
    text: str  # without the line terminator
    eol: str  # "\n", or "" for a last line without one


@dataclass
class _Block:
    start: int  # index of the Host/Match line (0 and kind None: lines before the first)
    end: int  # exclusive
    kind: str | None
    patterns: list[str]


_OPTION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_STRUCTURAL = frozenset({"host", "match", "include"})


class SshConfig:
    """An ssh_config file as lines; resolves like ``ssh -G`` and edits without collateral damage."""

    def __init__(self, text: str = "", *, base_dir: PathArg | None = None, name: str = "<string>") -> None:
        self._lines = [_Line(t, e) for t, e in _split_lines(text)]
        self.base_dir = os.fspath(base_dir) if base_dir is not None else os.path.expanduser("~/.ssh")
        self.name = name
        self._cr: str | None = None  # line-end "\r" for new lines, while an edit runs

    # ---- reading

    def __str__(self) -> str:
        return "".join(line.text + line.eol for line in self._lines)

    def __repr__(self) -> str:
        return f"<SshConfig {self.name} ({len(self._lines)} lines)>"

    def _texts(self) -> list[str]:
        return [line.text for line in self._lines]

    def hosts(self) -> list[list[str]]:
        """The patterns of every ``Host`` line, in order."""
        return [b.patterns for b in self._blocks() if b.kind == "host"]

    def resolve(
        self,
        host: str,
        *,
        user: str | None = None,
        port: int | str | None = None,
        local_user: str | None = None,
        allow_exec: bool = False,
        expand: bool = True,
    ) -> dict[str, Any]:
        """Every option in effect for ``host`` (lowercase keys), as ``ssh -G host`` computes it.

        ``user``/``port`` act like ``ssh -l``/``-p`` (``user@host`` works too).
        Values are strings as ``ssh -G`` prints them; options that collect
        several values are lists. ``expand=True`` expands ``%`` tokens, ``~``
        and ``${VAR}`` wherever ssh does, including what ``ssh -G`` still shows
        raw because ssh expands it only on use (IdentityFile, CertificateFile,
        ProxyCommand, LocalCommand); ``expand=False`` expands nothing but
        HostName. ``Match exec`` raises unless ``allow_exec``.
        """
        return _Resolver(self, host, user, port, local_user, allow_exec).run(expand)

    def get(self, host: str, option: str, default: Any = None, **kwargs: Any) -> Any:
        """One option of ``resolve(host)``; ``default`` when it is unset."""
        return self.resolve(host, **kwargs).get(_lower(option), default)

    # ---- structure

    def _blocks(self) -> list[_Block]:
        blocks = [_Block(0, len(self._lines), None, [])]
        for i, line in enumerate(self._lines):
            head = _head(line.text)
            if head is None or head[0] not in ("host", "match"):
                continue
            try:
                words = _argv(head[1] or "")
            except _QuoteError:
                words = []
            blocks[-1].end = i
            blocks.append(_Block(i, len(self._lines), head[0], words))
        return blocks

    def _find(self, pattern: str | Iterable[str] | None) -> _Block:
        """The block for ``pattern``: None = before the first Host/Match; else the Host patterns."""
        blocks = self._blocks()
        if pattern is None:
            return blocks[0]
        wanted = pattern.split() if isinstance(pattern, str) else list(pattern)
        hosts = [b for b in blocks if b.kind == "host"]
        for block in hosts:
            if block.patterns == wanted:
                return block
        if len(wanted) == 1:
            for block in hosts:
                if wanted[0] in block.patterns:
                    return block
        raise HostBlockNotFound(f"no Host block with pattern {' '.join(wanted)!r}")

    def _option_lines(self, block: _Block, kw: str) -> list[int]:
        first = block.start + (0 if block.kind is None else 1)
        found = []
        for i in range(first, block.end):
            head = _head(self._lines[i].text)
            if head is not None and head[0] == kw:
                found.append(i)
        return found

    def _new_line(self, text: str) -> _Line:
        return _Line(text + (self._cr or ""), "\n")

    @contextmanager
    def _editing(self) -> Iterator[None]:
        """Edit as if every line were terminated; restore the file's ending; all or nothing."""
        if self._cr is not None:  # nested: the outer edit already set things up
            yield
            return
        snapshot = [_Line(line.text, line.eol) for line in self._lines]
        crlf = any(line.text.endswith("\r") for line in self._lines if line.eol)
        self._cr = "\r" if crlf else ""
        open_end = self._lines[-1] if self._lines and not self._lines[-1].eol else None
        added_cr = open_end is not None and crlf and not open_end.text.endswith("\r")
        if open_end is not None:
            open_end.text += "\r" if added_cr else ""
            open_end.eol = "\n"
        try:
            yield
            if open_end is not None and self._lines:
                last = self._lines[-1]
                last.eol = ""  # the file had no final newline: keep it that way
                if crlf and (last is not open_end or added_cr):
                    last.text = last.text.removesuffix("\r")
        except BaseException:
            self._lines = snapshot
            raise
        finally:
            self._cr = None

    # ---- editing

    def set(self, host_pattern: str | Iterable[str] | None, option: str, value: Value | None) -> None:
        """Set ``option`` in the ``Host`` block for ``host_pattern`` (None: before any block).

        An existing line keeps its indentation, keyword spelling, separator
        and trailing comment; otherwise a line is added at the end of the
        block. Lists give one line per value for IdentityFile-like options,
        one line of several words otherwise. ``None`` unsets.
        """
        with self._editing():
            if value is None:
                self.unset(host_pattern, option)
                return
            kw = _checked_option(option)
            rendered = _render(option, kw, value)
            block = self._find(host_pattern)
            existing = self._option_lines(block, kw)
            if existing:
                self._replace(existing, kw, rendered)
            else:
                self._insert_option(block, option, kw, rendered)

    def update_host(self, pattern: str | Iterable[str], **options: Value | None) -> None:
        """``set`` several options of one ``Host`` block (``User="bob", Port=2222``)."""
        with self._editing():
            self._find(pattern)
            for option, value in options.items():
                self.set(pattern, option, value)

    def unset(self, host_pattern: str | Iterable[str] | None, option: str) -> int:
        """Remove every ``option`` line of the block; returns how many went."""
        with self._editing():
            kw = _checked_option(option)
            doomed = self._option_lines(self._find(host_pattern), kw)
            for i in reversed(doomed):
                self._delete(i)
            return len(doomed)

    def add_host(
        self,
        patterns: str | Iterable[str],
        options: Mapping[str, Value] | None = None,
        *,
        before: str | Iterable[str] | None = None,
    ) -> None:
        """Add ``Host patterns`` with ``options`` (4-space indent) at the end, or ahead of ``before``.

        ``before="*"`` matters: the first value wins, so a block after
        ``Host *`` cannot override what ``Host *`` sets.
        """
        with self._editing():
            words = patterns.split() if isinstance(patterns, str) else list(patterns)
            if not words:
                raise SshConfigError("add_host needs at least one pattern")
            for word in words:
                _check_pattern(word)
            if any(block.patterns == words for block in self._blocks() if block.kind == "host"):
                raise SshConfigError(f"a Host {' '.join(words)} block exists already: use update_host")
            texts = ["Host " + " ".join(words)]
            for option, value in (options or {}).items():
                kw = _checked_option(option)
                texts += [f"    {_spelling(option, kw)} {v}" for v in _render(option, kw, value)]
            new = [self._new_line(t) for t in texts]
            if before is None:
                self._append_block(new)
            else:
                self._insert_block(self._find(before), new)

    def remove_host(self, pattern: str | Iterable[str]) -> None:
        """Remove a ``Host`` block: its line, body and introducing comment (not the next one's)."""
        with self._editing():
            block = self._find(pattern)
            start, end, lines = self._header_start(block.start), block.end, self._lines
            while end > block.start + 1 and _is_filler(lines[end - 1].text):
                end -= 1
            # keep blocks evenly spaced: take one neighbouring blank line along
            if end < len(lines) and _is_blank(lines[end].text):
                if start == 0 or _is_blank(lines[start - 1].text):
                    end += 1
            elif end == len(lines):
                while start > 0 and _is_blank(lines[start - 1].text):
                    start -= 1
            del lines[start:end]

    # ---- line surgery

    def _replace(self, indices: list[int], kw: str, rendered: list[str]) -> None:
        first = indices[0]
        line = self._lines[first]
        line.text = _rewrite_value(line.text, kw, rendered[0])
        if kw in _PER_LINE or kw == "sendenv":
            # these accumulate: the new value replaces all of them
            for i in reversed(indices[1:]):
                self._delete(i)
            indent = _indent(line.text)
            spelled = _keyword_text(line.text)
            for offset, value in enumerate(rendered[1:], 1):
                self._insert_line(first + offset, self._new_line(f"{indent}{spelled} {value}"))

    def _insert_option(self, block: _Block, option: str, kw: str, rendered: list[str]) -> None:
        last = block.start if block.kind is not None else block.start - 1
        indent = "    " if block.kind is not None else ""
        first = block.start + (0 if block.kind is None else 1)
        for i in range(first, block.end):
            if not _is_filler(self._lines[i].text):
                last = i
                indent = _indent(self._lines[i].text)
        at = last + 1
        for offset, value in enumerate(rendered):
            self._insert_line(at + offset, self._new_line(f"{indent}{_spelling(option, kw)} {value}"))

    def _insert_line(self, at: int, line: _Line) -> None:
        self._lines.insert(at, line)

    def _delete(self, index: int) -> None:
        del self._lines[index]

    def _append_block(self, new: list[_Line]) -> None:
        if self._lines and not _is_blank(self._lines[-1].text):
            new = [self._new_line(""), *new]
        self._lines.extend(new)

    def _insert_block(self, block: _Block, new: list[_Line]) -> None:
        at = self._header_start(block.start)
        self._lines[at:at] = [*new, self._new_line("")]

    def _header_start(self, start: int) -> int:
        """Where a block begins counting the unindented comment lines right above it."""
        while start > 0 and _is_header_comment(self._lines[start - 1].text):
            start -= 1
        return start


def _is_blank(text: str) -> bool:
    return not text.strip(_WS + "\f")


def _is_header_comment(text: str) -> bool:
    """``# about the next block`` at column 0 (indented ones belong to the block above)."""
    return text.startswith("#")


def _is_filler(text: str) -> bool:
    """Blank or comment-only line."""
    return _head(text) is None


def _indent(text: str) -> str:
    return text[: len(text) - len(text.lstrip(" \t"))]


_KEY_SEP = re.compile(r'([ \t]*)([^ \t\r\n="]+)([ \t]*=[ \t]*|[ \t]+)')


def _keyword_text(text: str) -> str:
    m = _KEY_SEP.match(text)
    return m.group(2) if m else text.strip()


def _spelling(option: str, kw: str) -> str:
    return option if option != kw else _CANONICAL_NAMES.get(kw, option)


def _checked_option(option: str) -> str:
    if not _OPTION_NAME.fullmatch(option):
        raise SshConfigError(f"not an ssh_config option name: {option!r}")
    kw = _lower(option)
    if kw in _STRUCTURAL:
        raise SshConfigError(f"{option} is not an option: edit blocks with add_host/remove_host")
    return kw


def _check_pattern(pattern: str) -> None:
    if not pattern or re.search(r"[\s\"'\\#=\x00]", pattern):
        raise SshConfigError(f"bad Host pattern {pattern!r}: no spaces, quotes, '#', '=' or '\\\\'")


_BARE = re.compile(r"[^\s\"'\\#=]+")


def _quote_word(option: str, word: str) -> str:
    """One word written so OpenSSH's ``argv_split`` reads back exactly ``word``."""
    if not word:
        raise SshConfigError(f"{option}: empty value")
    if re.search(r'[\n\r\x00"]', word):
        raise SshConfigError(f"{option}: value {word!r} has a newline, NUL or double quote")
    if _BARE.fullmatch(word):
        return word
    return '"' + word.replace("\\", "\\\\") + '"'


def _render(option: str, kw: str, value: Value) -> list[str]:
    """The text after the keyword, one string per line to write."""
    if isinstance(value, bool):
        return ["yes" if value else "no"]
    if isinstance(value, (str, int)):
        items: list[str] = [str(value)]
    else:
        items = [str(v) for v in value]
        if not items:
            raise SshConfigError(f"{option}: empty list")
    if kw in _COMMANDS:
        return [_command_text(option, " ".join(items))]
    if kw in _PER_LINE:
        groups = [item.split(" ") if kw.endswith("forward") else [item] for item in items]
    else:
        groups = [items]
    lines = []
    for words in groups:
        line = " ".join(_quote_word(option, word) for word in words)
        if _argv(line) != words:  # belt and braces: it must read back as written
            raise SshConfigError(f"{option}: value {words!r} cannot be represented")
        if kw in _SINGLE:
            _normalize(kw, words, option)  # refuse what OpenSSH would refuse
        lines.append(line)
    return lines


def _command_text(option: str, command: str) -> str:
    """ProxyCommand & co. are taken raw to the end of the line: only newlines/NUL can inject."""
    if re.search(r"[\n\r\x00\f]", command) or not command.strip():
        raise SshConfigError(f"{option}: command {command!r} is empty or has a newline/NUL")
    if command != command.strip(_WS) or command.startswith("="):
        raise SshConfigError(f"{option}: command {command!r} starts/ends with blanks or '='")
    try:
        _argv(command)
    except _QuoteError:
        raise SshConfigError(f"{option}: command {command!r} has unbalanced quotes") from None
    return command


def _rewrite_value(text: str, kw: str, value: str) -> str:
    """``text`` with its value replaced; indentation, keyword, separator and comment kept."""
    m = _KEY_SEP.match(text)
    if m is None:
        return f"{text} {value}"
    start = m.end()
    body = _c_line(text)
    end = len(body)
    if kw not in _COMMANDS:
        try:
            tokens = _argv_tokens(body[start:])
            end = start + tokens[-1][2] if tokens else start
        except _QuoteError:
            pass
    tail = text[end:]
    if tail.startswith("#"):
        tail = " " + tail  # a '#' glued to the value would become part of it
    return text[:start] + value + tail


# --------------------------------------------------------------------------- module API


def loads(text: str, *, base_dir: PathArg | None = None) -> SshConfig:
    """Parse ``text``; never fails (errors surface when resolving)."""
    return SshConfig(text, base_dir=base_dir)


def load(path_or_file: PathArg | IO[str] | IO[bytes], *, base_dir: PathArg | None = None) -> SshConfig:
    """Read a config file; relative ``Include`` paths resolve in ``base_dir`` (default ``~/.ssh``)."""
    if isinstance(path_or_file, (str, os.PathLike)):
        text, name = _read_text(path_or_file), os.fspath(path_or_file)
    else:
        data = path_or_file.read()
        text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
        name = str(getattr(path_or_file, "name", "<file>"))
    return SshConfig(text, base_dir=base_dir, name=name)


def dumps(cfg: SshConfig) -> str:
    """The config's text: byte-identical to what was loaded, apart from edits."""
    return str(cfg)


def dump(cfg: SshConfig, path: PathArg, create_dirs: bool = False) -> None:
    """Write atomically (temp file in the same directory, fsync, rename), mode 0600.

    A symlinked config is written through the link, so dotfile setups keep working.
    """
    target = Path(os.path.realpath(path))
    if create_dirs:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = dumps(cfg).encode("utf-8", "surrogateescape")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(target.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable; some filesystems refuse, which is fine."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
