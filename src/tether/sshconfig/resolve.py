"""Resolution: the options in effect for one host, computed the way ``ssh -G`` does.

``_Resolver`` is one ``ssh -G`` run over a config's lines: the first pass
with the host as given, the ``Match final`` / ``CanonicalizeHostname`` second
pass with the canonical HostName, ``Include`` files read in place, first
obtained value wins (accumulating options aside), then defaults and expansion.
"""

from __future__ import annotations

import os
import re
import stat
from typing import Any

from ..exceptions import SshConfigError
from .expand import _expand_options, _percent_expand, _tokens
from .lexing import _C_SPACE, _WS, _argv, _head, _lower, _QuoteError, _split_lines, _strdelim
from .lookups import Lookups
from .options import _CLEAR_ON_NONE, _COMMANDS, _MULTI, _PER_LINE, _SINGLE, _a2port, _normalize
from .patterns import _match_host_line, _match_hostname, _match_list, _match_pattern

_MAX_INCLUDE_DEPTH = 16  # READCONF_MAX_DEPTH
_MAX_FILES = 100  # SSH_MAX_IDENTITY_FILES / SSH_MAX_CERTIFICATE_FILES
_AGENT_PATH = " forwardagent path"  # internal: cannot clash with a keyword


def _valid_hostname(host: str) -> bool:
    """OpenSSH refuses shell metacharacters in a host given on the command line."""
    bad = set("'`\"$\\;&<>|(){}" + _C_SPACE)
    return not host.startswith("-") and not any(c in bad or ord(c) < 32 or ord(c) == 127 for c in host)


def _valid_ruser(user: str) -> bool:
    """Same idea for a user name given on the command line (``-l``, ``user@host``)."""
    if user.startswith("-") or user.endswith("\\") or any(c in "'`\"$\\;&<>|(){}" for c in user):
        return False
    return re.search(rf"[{_C_SPACE}]-", user) is None


class _Resolver:
    """One ``ssh -G`` run: two passes over the lines, then defaults and expansion."""

    def __init__(
        self,
        texts: list[str],
        name: str,
        base_dir: str,
        host: str,
        user: str | None,
        port: int | str | None,
        local_user: str | None,
        allow_exec: bool,
        lookups: Lookups | None = None,
    ) -> None:
        self.texts = texts
        self.name = name  # the config's, for error messages
        self.base_dir = base_dir  # where relative Include paths start
        self.lookups = lookups if lookups is not None else Lookups()
        self.me = self.lookups.local_user(local_user)
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
        self._process(self.texts, self.name, True, False, 0)
        host = self.host_arg
        if "hostname" in self.opts:
            host = _percent_expand(self.opts["hostname"], {"h": host}, what="HostName")
        self.host = self.lookups.canonical_host(host)
        canon = self.opts.get("canonicalizehostname", "false")
        if self.want_final or canon != "false":
            # OpenSSH re-reads everything; values already set stay (first wins)
            self.opts["hostname"] = self.host
            self.final = True
            self._process(self.texts, self.name, True, False, 0)
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
                active = _match_host_line(self.host, words, where) and not never
            elif kw == "match":
                active = self._match(rest, where) and not never
            elif kw == "include":
                self._include(words, where, active, never, depth)
            else:
                self._option(kw, words, rest, active, where)

    def _include(self, words: list[str], where: str, active: bool, never: bool, depth: int) -> None:
        for word in words:
            if not word:
                raise SshConfigError(f"{where}: keyword include empty argument")
            path = word if word.startswith(("/", "~")) else os.path.join(self.base_dir, word)
            for found in self.lookups.glob(path):
                if depth + 1 > _MAX_INCLUDE_DEPTH:
                    raise SshConfigError(f"{where}: too many recursive configuration includes")
                texts = self._read_include(found, where)
                # a Match/Host inside the file must not change the includer's state
                self._process(texts, found, active, never or not active, depth + 1)

    def _read_include(self, path: str, where: str) -> list[str]:
        try:
            st = self.lookups.stat(path)
            if stat.S_ISDIR(st.st_mode):
                return []
            if st.st_uid not in (0, os.getuid()) or st.st_mode & 0o022:
                raise SshConfigError(f"{where}: bad owner or permissions on {path}")
            return [text for text, _ in _split_lines(self.lookups.read_text(path))]
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
        alias = self.opts.get("hostkeyalias", host)
        tokens = _tokens(self.lookups, self.me, self.host_arg, host, port, ruser, alias)
        return _percent_expand(command, tokens, what=f"{where}: Match exec")

    def _exec(self, cmd: str, where: str) -> bool:
        if not self.allow_exec:
            raise SshConfigError(
                f"{where}: Match exec {cmd!r} refused (pass allow_exec=True to run it)"
            )
        returncode = self.lookups.run_exec(cmd)
        if returncode < 0:
            raise SshConfigError(f"{where}: match exec {cmd!r} error (signal {-returncode})")
        return returncode == 0

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
            _expand_options(opts, self.me, self.host_arg, self.lookups)
        return opts
