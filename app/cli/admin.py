"""``dreamgen admin token``: the admin token and a one-click sign-in link, with or without a
running server (see :mod:`app.admin_token`)."""

from __future__ import annotations

import click

from app.cli.base import UserError, main


@main.group()
def admin() -> None:
    """The studio's admin: who may use /admin, /metrics and moderation."""


@admin.command("token")
@click.option("--new", "new", is_flag=True,
              help="Replace the token with a new one: everyone signed in is signed out.")
@click.option("--host", default=None, help="Host for the link (default: DREAMGEN_HOST).")
@click.option("--port", type=int, default=None, help="Port for the link (default: DREAMGEN_PORT).")
def admin_token(new: bool, host: str | None, port: int | None) -> None:
    """Print the admin token, where it is kept, and a sign-in link (DREAMGEN_PUBLIC_URL,
    else DREAMGEN_HOST and DREAMGEN_PORT)."""
    from app.admin_token import (
        ENV_NAME,
        AdminToken,
        AdminTokenError,
        replace_token,
        sign_in_link,
        token_file,
    )
    from app.settings import get_settings

    settings = get_settings()
    if new and settings.admin_token.strip():
        raise UserError(f"The admin token is set in {ENV_NAME}: change it there.")
    try:
        if new:
            replace_token(token_file(settings))
        source = AdminToken.from_settings(settings)
        token = source.current()
    except (AdminTokenError, OSError) as exc:
        raise UserError(str(exc)) from None
    click.echo(f"Token file: {source.path}" if source.from_file else
               f"The token is the one set in {ENV_NAME}.")
    click.echo(f"Token: {token}")
    click.echo(f"Sign-in link (keep it private): {sign_in_link(settings, token, host, port)}")
    if new:
        click.echo("Everyone signed in with the old token is signed out.", err=True)
