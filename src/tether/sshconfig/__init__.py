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

Modules, each importing only those before it (and nothing from tether but
``tether.exceptions``): ``lexing`` (lines and words), ``patterns`` (Host and
Match patterns), ``options`` (the option table), ``lookups`` (files, users,
host names), ``expand`` (``%``, ``${VAR}``, ``~``), ``resolve`` (``ssh -G``),
``rendering`` (text for edited lines), ``document`` (``SshConfig``, load/dump).
"""

from __future__ import annotations

from ..exceptions import HostBlockNotFound, SshConfigError
from .document import SshConfig, dump, dumps, load, loads

__all__ = [
    "HostBlockNotFound",
    "SshConfig",
    "SshConfigError",
    "dump",
    "dumps",
    "load",
    "loads",
]
