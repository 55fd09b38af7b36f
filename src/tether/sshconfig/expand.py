"""Expansion of resolved values: ``%`` tokens, ``${VAR}`` and ``~``, where OpenSSH applies each.

``_percent_expand`` and ``_tilde_expand`` follow ``misc.c``; ``_expand_options``
applies them to a resolved option set with the token table of ``ssh``
(``%h``, ``%p``, ``%r``, ``%C``...), option by option as ssh does.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any

from ..exceptions import SshConfigError
from .lexing import _lower
from .lookups import LocalUser, Lookups


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


def _tilde_expand(path: str, home: str, lookups: Lookups) -> str:
    """``misc.c:tilde_expand``: ``~``, ``~/x``, ``~user/x``; the result of ``~`` ends in ``/``."""
    if not path.startswith("~"):
        return path
    rest = path[1:]
    if rest == "" or rest.startswith("/"):
        base, tail = home, rest.lstrip("/")
    else:
        user, _, tail = rest.partition("/")
        try:
            base = lookups.home_of(user)
        except KeyError:
            raise SshConfigError(f"tilde expansion: no such user {user}") from None
        tail = tail.lstrip("/")
    slash = "" if base.endswith("/") else "/"
    return f"{base}{slash}{tail}"


def _connection_hash(this: str, host: str, port: str, user: str) -> str:
    """%C: SHA-1 of local host, remote host, port and user (OpenSSH 9.2)."""
    return hashlib.sha1((this + host + port + user).encode("utf-8", "surrogateescape")).hexdigest()


def _tokens(
    lookups: Lookups, me: LocalUser, original: str, host: str, port: str, user: str, alias: str
) -> dict[str, str]:
    """The ``%`` tokens of ``user@host:port`` (``original``: the host as given; ``alias``: %k)."""
    this, short = lookups.this_host()
    return {
        "C": _connection_hash(this, host, port, user),
        "L": short,
        "d": me.home,
        "h": host,
        "i": str(me.uid),
        "k": alias,
        "l": this,
        "n": original,
        "p": port,
        "r": user,
        "u": me.name,
    }


def _expand_options(opts: dict[str, Any], me: LocalUser, host_arg: str, lookups: Lookups) -> None:
    """Expand, in place, every option of a finished resolution that ssh expands."""
    alias = opts.get("hostkeyalias", host_arg)
    tokens = _tokens(lookups, me, host_arg, opts["hostname"], opts["port"], opts["user"], alias)

    def path(value: str, what: str) -> str:
        expanded = _tilde_expand(value, me.home, lookups)
        return _percent_expand(expanded, tokens, dollar=True, what=what)

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
