"""``tether`` on the command line: click commands over the library."""

from __future__ import annotations

import click

from .. import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tether")
def main() -> None:
    """Work on other machines: commands, pipelines, files, tunnels, remote Python."""


@main.command()
@click.option("--server", type=click.Choice(["embedded", "openssh"]), default="embedded", show_default=True,
              help="Which loopback SSH server the tour starts for itself.")
def demo(server: str) -> None:
    """A guided tour against a loopback SSH server tether starts for itself."""
    from .demo import run_demo

    raise SystemExit(run_demo(server))


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("argv", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--timeout", type=float, default=None, help="Kill the command after this many seconds.")
def run(argv: tuple[str, ...], timeout: float | None) -> None:
    """Run a local command through tether (quoted, timed, errors explained)."""
    from .. import local
    from ..exceptions import TetherError

    try:
        rc, out, err = local[argv[0]][argv[1:]].run(retcode=None, timeout=timeout)
    except TetherError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(out, nl=False)
    click.echo(err, nl=False, err=True)
    raise SystemExit(rc)


# tether network ...: the Manager and its tables (its own module)
from .network import network as _network  # noqa: E402

main.add_command(_network)
from .transfer import get, put  # noqa: E402 - registered after the group exists

main.add_command(put)
main.add_command(get)
