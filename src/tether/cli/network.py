"""``tether network ...``: run a Manager and manage its users, hostnames, keys and certificates.

Passwords are never options: they are prompted for (hidden) or read from a
file named by a ``--*-file`` option, so they stay out of shell history and
``ps``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ..exceptions import TetherError


@contextmanager
def _open(path: str | None) -> Iterator[Any]:
    """The database, closed afterwards; its ValueErrors become clean CLI errors."""
    from ..network.users import Database  # imported only when a command runs

    db = Database(path)
    try:
        yield db
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        db.close()


def _read_secret_file(path: str | None) -> str | None:
    if path is None:
        return None
    text = Path(path).read_text().strip()
    if not text:
        raise click.BadParameter(f"{path} is empty", param_hint="password file")
    return text


def _password(password_file: str | None, prompt: str) -> str:
    return _read_secret_file(password_file) or click.prompt(prompt, hide_input=True, confirmation_prompt=True)


database_option = click.option("--database", "-d", type=click.Path(dir_okay=False),
                               help="The Manager's sqlite database (default: ~/.tether/network/manager.sqlite3).")


@click.group()
def network() -> None:
    """A Manager for Services and Clients over TLS (msl-network's wire protocol)."""


@network.command()
@click.option("--port", "-p", type=int, default=1875, show_default=True, help="Port to listen on.")
@click.option("--host", "-H", default=None, help="Address to listen on (default: every interface).")
@click.option("--auth-hostname", is_flag=True, help="Only hosts in the hostnames table may connect.")
@click.option("--auth-login", is_flag=True, help="Peers log in as a user in the users table.")
@click.option("--auth-password-file", type=click.Path(exists=True, dir_okay=False),
              help="Peers must send the password in this file.")
@database_option
@click.option("--disable-tls", is_flag=True, help="Plain TCP (only on a network you trust).")
@click.option("--cert-file", "-c", type=click.Path(exists=True, dir_okay=False), help="TLS certificate (PEM).")
@click.option("--key-file", "-k", type=click.Path(exists=True, dir_okay=False), help="TLS private key (PEM).")
@click.option("--key-file-password-file", type=click.Path(exists=True, dir_okay=False),
              help="File holding the private key's password.")
@click.option("--log-level", "-G", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], case_sensitive=False))
@click.option("--log-file", "-l", type=click.Path(dir_okay=False), help="Also log to this file.")
def start(port: int, host: str | None, auth_hostname: bool, auth_login: bool, auth_password_file: str | None,
          database: str | None, disable_tls: bool, cert_file: str | None, key_file: str | None,
          key_file_password_file: str | None, log_level: str, log_file: str | None) -> None:
    """Run a Manager until an admin sends shutdown_manager (or ^C)."""
    import logging

    from ..network import run_forever

    logging.basicConfig(format="%(asctime)s [%(levelname)-5s] %(name)s - %(message)s")
    try:
        run_forever(host=host, port=port, auth_hostname=auth_hostname, auth_login=auth_login,
                    auth_password=_read_secret_file(auth_password_file), database=database,
                    disable_tls=disable_tls, cert_file=cert_file, key_file=key_file,
                    key_file_password=_read_secret_file(key_file_password_file), log_level=log_level,
                    log_file=log_file)
    except (TetherError, OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        click.echo("stopped", err=True)


@network.group()
def user() -> None:
    """Users who may log in (``start --auth-login``) and administrators."""


@user.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="May send admin requests (shutdown_manager, tables).")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False),
              help="Read the password from this file instead of prompting.")
@database_option
def user_add(name: str, admin: bool, password_file: str | None, database: str | None) -> None:
    """Add a user (the password is prompted for, hidden)."""
    with _open(database) as db:
        db.add_user(name, _password(password_file, f"Password for {name}"), admin)
    click.echo(f"added {name}{' (admin)' if admin else ''}")


@user.command("update")
@click.argument("name")
@click.option("--admin/--no-admin", default=None, help="Grant or revoke admin rights.")
@click.option("--password", "change_password", is_flag=True, help="Set a new password (prompted).")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False))
@database_option
def user_update(name: str, admin: bool | None, change_password: bool, password_file: str | None,
                database: str | None) -> None:
    """Change a user's password or admin rights."""
    with _open(database) as db:
        wanted = change_password or password_file
        db.update_user(name, _password(password_file, f"New password for {name}") if wanted else None, admin)
    click.echo(f"updated {name}")


@user.command("remove")
@click.argument("name")
@database_option
def user_remove(name: str, database: str | None) -> None:
    """Remove a user."""
    with _open(database) as db:
        db.remove_user(name)
    click.echo(f"removed {name}")


@user.command("list")
@database_option
def user_list(database: str | None) -> None:
    """List users (never their password hashes)."""
    with _open(database) as db:
        for name, is_admin in db.users():
            click.echo(f"{name}{'  (admin)' if is_admin else ''}")


@network.group()
def hostname() -> None:
    """Trusted hostnames (``start --auth-hostname``)."""


@hostname.command("add")
@click.argument("names", nargs=-1, required=True)
@database_option
def hostname_add(names: tuple[str, ...], database: str | None) -> None:
    with _open(database) as db:
        for name in names:
            db.add_hostname(name)
    click.echo(f"trusted {', '.join(names)}")


@hostname.command("remove")
@click.argument("names", nargs=-1, required=True)
@database_option
def hostname_remove(names: tuple[str, ...], database: str | None) -> None:
    with _open(database) as db:
        for name in names:
            db.remove_hostname(name)
    click.echo(f"removed {', '.join(names)}")


@hostname.command("list")
@database_option
def hostname_list(database: str | None) -> None:
    with _open(database) as db:
        for name in db.hostnames():
            click.echo(name)


@network.command()
@click.argument("out", type=click.Path(dir_okay=False), required=False)
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False),
              help="Encrypt the key with the password in this file.")
def keygen(out: str | None, password_file: str | None) -> None:
    """Make a private key (P-256, PEM, mode 0600)."""
    from ..network import certs

    path = certs.generate_key(out or certs.default_key_path(), _read_secret_file(password_file))
    click.echo(f"wrote {path}")


@network.command()
@click.argument("out", type=click.Path(dir_okay=False), required=False)
@click.option("--key-file", "-k", type=click.Path(exists=True, dir_okay=False),
              help="Sign with this key (default: the Manager's key, made if missing).")
@click.option("--key-file-password-file", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", "names", multiple=True, help="A name or IP the certificate is for (repeatable).")
@click.option("--days", type=int, default=3650, show_default=True)
def certgen(out: str | None, key_file: str | None, key_file_password_file: str | None,
            names: tuple[str, ...], days: int) -> None:
    """Make a self-signed certificate for a Manager."""
    from ..network import certs

    password = _read_secret_file(key_file_password_file)
    key = Path(key_file) if key_file else certs.default_key_path()
    if not key.is_file():
        certs.generate_key(key, password)
    path = certs.generate_certificate(out or certs.default_cert_path(), key, password, list(names) or None, days)
    click.echo(f"wrote {path}")
    click.echo(certs.describe(path))


@network.command()
@click.argument("cert_file", type=click.Path(exists=True, dir_okay=False), required=False)
def certdump(cert_file: str | None) -> None:
    """Show a certificate: names, validity and the SHA-256 fingerprint clients can pin."""
    from ..network import certs

    click.echo(certs.describe(cert_file or certs.default_cert_path()))


@network.command()
@click.option("--all", "everything", is_flag=True, help="Everything under the network home.")
@click.option("--certs", "what", flag_value="certs", help="Saved and generated certificates.")
@click.option("--keys", "what", flag_value="keys", help="Private keys.")
@click.option("--database", "what", flag_value="database", help="The users/hostnames/connections database.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(everything: bool, what: str | None, yes: bool) -> None:
    """Delete files from the network home (~/.tether/network or $TETHER_NETWORK_HOME)."""
    from ..network import certs

    home = certs.HOME
    targets = {"certs": [home / "certs"], "keys": [home / "keys"], "database": [home / "manager.sqlite3"]}
    if everything:
        paths = [home]
    elif what:
        paths = targets[what]
    else:
        raise click.UsageError("say what to delete: --all, --certs, --keys or --database")
    paths = [p for p in paths if p.exists()]
    if not paths:
        click.echo("nothing to delete")
        return
    if not yes:
        click.confirm("Delete " + ", ".join(map(str, paths)) + "?", abort=True)
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        click.echo(f"deleted {path}")
