"""``tether put`` and ``tether get``: copy files and trees to and from a host, with a progress bar.

::

    tether put report.pdf build/ john@web1:/srv/www     # several sources into a directory
    tether get web1:/var/log/syslog .                     # a host alias from ~/.ssh/config
    tether get -p 2222 -i ~/.ssh/id_ed25519 web1:data ./data

Remote places are written ``[user@]host:path`` (a relative path is taken
from the login directory). Every copy is atomic at the destination: an
interrupted one leaves what was there before.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

# [user@]host:path; a host may be an ssh_config alias but never contains ':' or '/'
_REMOTE = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[^@/:]+):(?P<path>.*)\Z", re.DOTALL)
_VIA = ("ssh", "native", "putty")


def parse_remote(text: str) -> tuple[str | None, str, str]:
    """``(user, host, path)`` of ``[user@]host:path``; ValueError if ``text`` is not one."""
    found = _REMOTE.match(text)
    if found is None:
        raise ValueError(f"not a remote place ([user@]host:path): {text!r}")
    return found["user"], found["host"], found["path"] or "."


def _connection_options(func: Callable) -> Callable:
    options = [
        click.option("-p", "--port", type=int, default=None, help="SSH port (default: from ssh_config, else 22)."),
        click.option("-i", "--identity", "keyfile", type=click.Path(dir_okay=False), default=None,
                     help="Private key file."),
        click.option("--known-hosts", type=click.Path(dir_okay=False), default=None,
                     help="known_hosts file to verify the host key against."),
        click.option("--via", type=click.Choice(_VIA), default="ssh", show_default=True,
                     help="OpenSSH client, in-process asyncssh, or PuTTY's plink."),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True))
@click.argument("destination")
@_connection_options
def put(sources: tuple[str, ...], destination: str, **options: Any) -> None:
    """Upload local SOURCES (files or directories) to DESTINATION, written [user@]host:path."""
    user, host, path = _remote_or_fail(destination)
    with _machine(user, host, options) as rem, _progress_bar(options["quiet"]) as bar:
        target = rem.path(path)
        if len(sources) > 1 and not target.is_dir():
            raise click.UsageError(f"several sources need a directory to go into; {path!r} is none on {host}")
        for source in sources:
            rem.upload(source, target, progress=bar(source))


@click.command()
@click.argument("source")
@click.argument("destination", type=click.Path())
@_connection_options
def get(source: str, destination: str, **options: Any) -> None:
    """Download SOURCE, written [user@]host:path, to local DESTINATION."""
    user, host, path = _remote_or_fail(source)
    with _machine(user, host, options) as rem, _progress_bar(options["quiet"]) as bar:
        rem.download(path, destination, progress=bar(path))


def _remote_or_fail(text: str) -> tuple[str | None, str, str]:
    try:
        return parse_remote(text)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


@contextmanager
def _machine(user: str | None, host: str, options: dict) -> Iterator[Any]:
    from .. import NativeSshMachine, PuttyMachine, SshMachine
    from ..exceptions import TetherError

    kind = {"ssh": SshMachine, "native": NativeSshMachine, "putty": PuttyMachine}[options["via"]]
    settings = {k: options[k] for k in ("port", "keyfile", "known_hosts") if options[k] is not None}
    try:
        with kind(host, user=user, **settings) as rem:
            yield rem
    except (TetherError, OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


@contextmanager
def _progress_bar(quiet: bool) -> Iterator[Callable[[str], Any]]:
    """``bar(label)`` gives a ``progress(done, total)`` callback drawing one rich task per transfer."""
    if quiet:
        yield lambda label: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as progress:

        def bar(label: str) -> Callable[[int, int | None], None]:
            task = progress.add_task(posixpath.basename(label.rstrip("/")) or label, total=None)

            def update(done: int, total: int | None) -> None:
                progress.update(task, completed=done, total=total)

            return update

        yield bar
