"""The editable document: an ssh_config as lines, with block-aware edits and safe writes.

``SshConfig`` keeps every line's bytes (comments, case, ``Key=Value``, quotes,
tabs, CRLF, a missing final newline) until an edit touches that very line;
``_blocks`` finds the ``Host``/``Match`` blocks on demand, so there is no
second model to keep in step. Parsing never fails (errors surface when
resolving); ``dump`` writes atomically.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..exceptions import HostBlockNotFound, SshConfigError
from .lexing import _WS, _argv, _head, _lower, _QuoteError, _split_lines
from .lookups import PathArg, _read_text
from .options import _PER_LINE
from .rendering import (
    Value,
    _check_pattern,
    _checked_option,
    _indent,
    _keyword_text,
    _render,
    _rewrite_value,
    _spelling,
)
from .resolve import _Resolver


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
        resolver = _Resolver(
            self._texts(), self.name, self.base_dir, host, user, port, local_user, allow_exec
        )
        return resolver.run(expand)

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

