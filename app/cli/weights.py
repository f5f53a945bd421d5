"""``dreamgen weights status|download|import`` and ``dreamgen engines``."""

from __future__ import annotations

from pathlib import Path

import click

from app.cli.base import UserError, main, user_errors, weight_store
from app.engine.registry import engines_using


@main.group()
def weights() -> None:
    """Inspect, download or import model weights (pinned by SHA-256)."""


@weights.command("status")
def weights_status() -> None:
    """Show every weight file: verified, missing or corrupt, and where."""
    store = weight_store()
    click.echo("Search folders: " + ", ".join(f"{folder} ({source})"
                                              for source, folder in store.search_dirs()))
    rows = [(s.file.name, ",".join(engines_using(s.file.name)) or "-", s.state,
             str(s.path or "-"))
            for s in store.report()]
    widths = [max(len(r[i]) for r in rows + [("FILE", "ENGINES", "STATE", "")]) for i in range(3)]
    for row in [("FILE", "ENGINES", "STATE", "PATH"), *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3])


@weights.command("download")
@click.argument("targets", nargs=-1, metavar="[ENGINE|FILE]...")
@click.option("--all", "everything", is_flag=True, help="Every file in the registry (default).")
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to download into (default: the weights cache).")
def weights_download(targets: tuple[str, ...], everything: bool, dest: Path | None) -> None:
    """Download weights for ENGINEs (see `dreamgen engines`) or single FILEs.

    Files already present and verified are left alone. DREAMGEN_WEIGHTS_MIRROR replaces the
    public URLs with <mirror>/<file name>.
    """
    from app.engine.weights.downloads import (
        WeightsDownloadError,
        download,
        refuse_if_offline,
    )
    from app.engine.weights.store import files_for

    store = weight_store()
    with user_errors():
        wanted = []
        for file in files_for(() if everything else targets):
            found = store.locate(file)
            if found.state == "verified" and dest is None:
                click.echo(f"{file.name}: already verified at {found.path}")
            else:
                wanted.append(file)
        refuse_if_offline(store, wanted)
        failures = 0
        for file in wanted:  # one failure (say, an unreachable host) does not stop the rest
            try:
                [path] = download(store, [file], dest_dir=dest)
                click.echo(f"downloaded {path}")
            except WeightsDownloadError as exc:
                failures += 1
                click.echo(f"failed: {exc}", err=True)
        if failures:
            raise UserError(f"{failures} of {len(wanted)} downloads failed (see above)")


@weights.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to import into (default: the weights cache).")
def weights_import(paths: tuple[Path, ...], dest: Path | None) -> None:
    """Copy weight files from PATHs (files or folders, e.g. a USB stick) into the cache.

    Files named like weight files (.pth, .pth.tar) and of a pinned size are recognised by
    their SHA-256; others are skipped unread. The studio's data, media and database
    folders, /, /proc, /sys, /dev and /run are refused, and so are folders holding special
    files or links to elsewhere.
    """
    from app.engine.weights.downloads import import_weights

    with user_errors():
        report = import_weights(weight_store(), paths, dest_dir=dest)
    for source, target in report.imported:
        click.echo(f"imported {source} -> {target}")
    for source, target in report.already_present:
        click.echo(f"already present {target} (from {source})")
    click.echo(f"{len(report.imported)} imported, {len(report.already_present)} already "
               f"present, {len(report.skipped)} skipped (not a known weight file)")


@main.command()
def engines() -> None:
    """Which engines can run here, and what fetches the others."""
    from app.engine.registry import BY_NAME

    for status in weight_store().statuses():
        spec = BY_NAME[status.name]
        state = "ready" if status.ready else "not ready"
        line = (f"{status.name:<11} {spec.mode_label:<15} {status.label:<28} {state:<9}  "
                f"{status.detail}")
        click.echo(line if status.ready else
                   f"{line}  -> run: dreamgen weights download {status.name}")
