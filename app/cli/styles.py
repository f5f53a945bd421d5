"""``dreamgen styles``: the style library from a terminal, for the admin who seeds a new
studio with paintings in bulk (``add``) or wants to see what is listed (``list``). Each file
is checked like any upload (decoded in a child process, re-encoded, size limits) and joins the
library as curated, as the admin's form on ``/styles`` does."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from app.cli.base import UserError, main


@main.group()
def styles() -> None:
    """The style library: add curated styles, list them."""


@styles.command("add")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--title", default="", help="Title for every file given (default: each "
                                          "file's name, 'starry_night.jpg' → 'Starry night').")
def add(files: tuple[Path, ...], title: str) -> None:
    """Add FILES to the library as curated styles (shown even before any result uses them).
    A picture already there becomes curated and visible again. Bad files are reported and
    skipped; the exit status is 2 if any was."""
    from app.engine.errors import StyleTransferError
    from app.people.library import add_curated_style
    from app.people.titles import title_from_name
    from app.runtime import Runtime
    from app.settings import get_settings

    settings = get_settings()
    runtime = Runtime.open(settings, pool_size=1)
    runtime.share_media_folder()        # a server starting meanwhile must not sweep our files
    store, sessions = runtime.store, runtime.sessions
    failed = 0
    try:
        for path in files:
            raw = store.temp_path_for(store.new_path("uploads", ".part"))
            try:
                shutil.copyfile(path, raw)
                with sessions() as session:
                    style_id = add_curated_style(session, store, settings, raw,
                                                 title or title_from_name(path.name) or "")
                click.echo(f"{path.name}: style {style_id}")
            except (StyleTransferError, OSError) as exc:
                failed += 1
                click.echo(f"Error: {path.name}: {' '.join(str(exc).split())}", err=True)
            finally:
                raw.unlink(missing_ok=True)
    finally:
        runtime.close()
    if failed:
        raise UserError(f"{failed} of {len(files)} files were not added")


@styles.command("list")
def list_styles() -> None:
    """The listed styles, most used first (id, uses, curated, title), then the hidden ones."""
    from sqlalchemy.exc import SQLAlchemyError

    from app.people.styles import hidden_styles, listed_styles
    from app.runtime import Runtime
    from app.settings import get_settings

    settings = get_settings()
    # a read: no migration, no write lock on a live studio
    runtime = Runtime.open(settings, migrate=False, pool_size=1)
    try:
        with runtime.sessions() as session:
            listed, total = listed_styles(session, per_page=10_000)
            hidden = hidden_styles(session)
    except SQLAlchemyError as exc:
        raise UserError(f"cannot read the style library from {settings.database_url}: "
                        f"{type(exc).__name__} (has `dreamgen serve` or `dreamgen styles add` "
                        "run on this database yet? they create its tables)") from None
    finally:
        runtime.close()
    for entry in listed:
        style = entry.style
        kind = "curated" if style.curated else "used"
        click.echo(f"{style.id:>5}  {entry.uses:>4} uses  {kind:<7}  {style.title or '-'}")
    for style in hidden:
        click.echo(f"{style.id:>5}  hidden          {style.title or '-'}")
    if not total and not hidden:
        click.echo("The style library is empty: `dreamgen styles add FILE...` seeds it.",
                   err=True)
