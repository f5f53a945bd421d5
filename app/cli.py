"""The ``dreamgen`` command line: weights, one-off stylisation, the server, engine status.

Heavy modules (torch, the engines, uvicorn) are imported inside the commands so that
``dreamgen --help`` answers at once. Bad input ends with exit status 2 and one line on stderr.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import click

from app.engine.errors import StyleTransferError

if TYPE_CHECKING:
    from app.engine.api import Progress, StyleOptions

ENGINE_CHOICES = ("auto", "adain", "microast", "gatys", "gatys-lite")  # api.ENGINES + auto
VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi"}


class UserError(click.ClickException):
    """Bad input or options: ``Error: <message>`` on one line, exit status 2, no traceback."""

    exit_code = 2


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the engine's domain errors into :class:`UserError`."""
    try:
        yield
    except StyleTransferError as exc:
        raise UserError(" ".join(str(exc).split())) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """dreamgen: one-click neural style transfer (images and video)."""


# ----------------------------------------------------------------------------- weights
@main.group()
def weights() -> None:
    """Inspect, download or import model weights (pinned by SHA-256)."""


@weights.command("status")
def weights_status() -> None:
    """Show every weight file: verified, missing or corrupt, and where."""
    from app.engine.weights import search_dirs, weights_report

    click.echo("Search folders: " + ", ".join(str(d) for d in search_dirs()))
    rows = [(s.file.name, ",".join(s.file.engines) or "-", s.state, str(s.path or "-"))
            for s in weights_report()]
    widths = [max(len(r[i]) for r in rows + [("FILE", "ENGINES", "STATE", "")]) for i in range(3)]
    for row in [("FILE", "ENGINES", "STATE", "PATH"), *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3])


@weights.command("download")
@click.argument("targets", nargs=-1, metavar="[ENGINE|FILE]...")
@click.option("--all", "everything", is_flag=True, help="Every file in the registry (default).")
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to download into (default: the weights cache).")
def weights_download(targets: tuple[str, ...], everything: bool, dest: Path | None) -> None:
    """Download weights for ENGINEs (adain, microast, gatys, gatys-lite) or single FILEs.

    Files already present and verified are left alone. DREAMGEN_WEIGHTS_MIRROR replaces the
    public URLs with <mirror>/<file name>.
    """
    from app.engine.weights import (WeightsDownloadError, download, files_for, locate,
                                    refuse_if_offline)

    with user_errors():
        wanted = []
        for file in files_for(() if everything else targets):
            found = locate(file)
            if found.state == "verified" and dest is None:
                click.echo(f"{file.name}: already verified at {found.path}")
            else:
                wanted.append(file)
        refuse_if_offline(wanted)
        failures = 0
        for file in wanted:  # one failure (say, an unreachable host) does not stop the rest
            try:
                [path] = download([file], dest_dir=dest)
                click.echo(f"downloaded {path}")
            except WeightsDownloadError as exc:
                failures += 1
                click.echo(f"failed: {exc}", err=True)
        if failures:
            raise UserError(f"{failures} of {len(wanted)} downloads failed (see above)")


@weights.command("import")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to import into (default: the weights cache).")
def weights_import(paths: tuple[Path, ...], dest: Path | None) -> None:
    """Copy weight files from PATHs (files or folders, e.g. a USB stick) into the cache.

    Files are recognised by their SHA-256, whatever their names; others are skipped.
    """
    from app.engine.weights import import_weights

    with user_errors():
        report = import_weights(paths, dest_dir=dest)
    for source, target in report.imported:
        click.echo(f"imported {source} -> {target}")
    for source, target in report.already_present:
        click.echo(f"already present {target} (from {source})")
    click.echo(f"{len(report.imported)} imported, {len(report.already_present)} already "
               f"present, {len(report.skipped)} skipped (not a known weight file)")


# ----------------------------------------------------------------------------- engines
@main.command()
def engines() -> None:
    """Which engines can run here, and what fixes the others."""
    from app.engine.api import engine_statuses

    for status in engine_statuses():
        state = "ready" if status.ready else "not ready"
        line = f"{status.name:<11} {status.label:<42} {state:<9}  {status.detail}"
        click.echo(line if status.ready else f"{line}  -> run: {status.fix_command}")


# ----------------------------------------------------------------------------- serve
@main.command()
@click.option("--host", default=None, help="Address to listen on (default: DREAMGEN_HOST).")
@click.option("--port", type=int, default=None, help="Port (default: DREAMGEN_PORT).")
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
def serve(host: str | None, port: int | None, reload: bool) -> None:
    """Start the web app."""
    import uvicorn

    from app.settings import get_settings

    settings = get_settings()
    uvicorn.run("app.web.main:create_app", factory=True, host=host or settings.host,
                port=port or settings.port, reload=reload)


@main.command()
def worker() -> None:
    """Run job workers without the web server (an extra machine sharing the database and
    media folder); stops cleanly on Ctrl-C or SIGTERM, putting a running job back."""
    import signal
    import threading

    from app.jobs.db import make_engine, upgrade_to_head
    from app.jobs.worker import WorkerPool, recover_abandoned_jobs
    from app.settings import get_settings
    from app.storage import MediaStore
    from app.web.main import configure_logging

    settings = get_settings()
    configure_logging()
    upgrade_to_head(settings.database_url)
    engine = make_engine(settings.database_url)
    recover_abandoned_jobs(engine, settings.max_attempts)
    pool = WorkerPool(engine, MediaStore(settings.media_dir), settings)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    pool.start()
    click.echo(f"{len(pool.workers)} worker(s) running on {settings.database_url}; "
               "Ctrl-C stops", err=True)
    while not stopping.wait(1.0):
        pass
    pool.stop()
    engine.dispose()


# ----------------------------------------------------------------------------- stylize
@main.command()
@click.argument("content", type=click.Path(path_type=Path))
@click.argument("styles", nargs=-1, required=True, metavar="STYLE...",
                type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Result image (or video, when CONTENT is a video).")
@click.option("--engine", type=click.Choice(ENGINE_CHOICES), default="auto", show_default=True)
@click.option("--alpha", type=float, default=1.0, show_default=True,
              help="Style strength, 0 (content) to 1 (full style).")
@click.option("--style-weights", default=None, help="Mix of the styles, e.g. 0.7,0.3.")
@click.option("--preserve-color", is_flag=True, help="Keep the content's colours.")
@click.option("--size", type=int, default=None, help="Longest output side in pixels.")
@click.option("--iterations", type=int, default=None, help="Gatys iterations.")
@click.option("--device", default=None, help="auto, cpu, cuda or cuda:N.")
@click.option("--seed", type=int, default=None, help="Random seed (Gatys noise init).")
def stylize(content: Path, styles: tuple[Path, ...], output: Path, engine: str, alpha: float,
            style_weights: str | None, preserve_color: bool, size: int | None,
            iterations: int | None, device: str | None, seed: int | None) -> None:
    """Stylise CONTENT (an image or a video) with one or more STYLE images."""
    with user_errors():
        if not content.is_file():
            raise StyleTransferError(f"content {str(content)!r} does not exist")
        options = build_options(engine, alpha, parse_style_weights(style_weights, len(styles)),
                                preserve_color, size, iterations, device, seed)
        output.parent.mkdir(parents=True, exist_ok=True)
        if is_video(content):
            _stylize_video(content, list(styles), output, options)
        else:
            _stylize_image(content, list(styles), output, options)
    click.echo(f"wrote {output}")


def parse_style_weights(text: str | None, count: int) -> tuple[float, ...] | None:
    """``"0.7,0.3"`` to ``(0.7, 0.3)``, one non-negative number per style image."""
    if text is None:
        return None
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise StyleTransferError(f"--style-weights {text!r} is not a comma-separated list of "
                                 "numbers") from None
    if len(values) != count:
        raise StyleTransferError(f"--style-weights has {len(values)} numbers for {count} "
                                 "style image(s); give one per style")
    if any(v < 0 for v in values) or sum(values) <= 0:
        raise StyleTransferError("--style-weights must be non-negative and not all zero")
    return values


def build_options(engine: str, alpha: float, style_weights: tuple[float, ...] | None,
                  preserve_color: bool, size: int | None, iterations: int | None,
                  device: str | None, seed: int | None) -> StyleOptions:
    """Check the numbers a person typed and gather them into :class:`StyleOptions`."""
    from app.engine.api import StyleOptions
    from app.engine.device import pick_device
    from app.settings import get_settings

    if not 0.0 <= alpha <= 1.0:
        raise StyleTransferError(f"--alpha {alpha:g} is outside 0..1")
    if size is not None and size < 8:
        raise StyleTransferError(f"--size {size} is too small; use at least 8")
    if iterations is not None and iterations < 1:
        raise StyleTransferError(f"--iterations {iterations} must be at least 1")
    device = device or get_settings().device
    pick_device(device)  # an unknown device or a missing GPU fails here, before any work
    chosen = {"max_side": size, "iterations": iterations, "seed": seed}
    return StyleOptions(engine=engine, alpha=alpha, style_weights=style_weights,
                        preserve_color=preserve_color,
                        device=device,
                        **{k: v for k, v in chosen.items() if v is not None})


def is_video(path: Path) -> bool:
    """A video by extension, or by its first bytes (an animated GIF counts, a still does not)."""
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return True
    from app.video.probe import is_video_file

    return is_video_file(path)


@contextlib.contextmanager
def progress_bar(description: str, engine: str) -> Iterator[Callable[[Progress], None]]:
    """A tqdm bar in percent, fed by the engines' :class:`Progress` callback. Checks
    ``engine``'s weights first, so a missing file is one error line, not a broken bar."""
    from tqdm import tqdm

    from app.engine.api import resolve_engine
    from app.engine.weights import require_engine

    require_engine(resolve_engine(engine))

    with tqdm(total=100, desc=description, file=sys.stderr,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]{postfix}"
              ) as bar:
        def report(progress: Progress) -> None:
            bar.n = min(100.0, max(0.0, progress.fraction * 100))
            bar.set_postfix_str(progress.message, refresh=False)
            bar.refresh()

        yield report


def _stylize_image(content: Path, styles: list[Path], output: Path,
                   options: StyleOptions) -> None:
    from PIL import Image

    from app.engine.api import stylize_image
    from app.engine.images import load_image
    from app.settings import get_settings

    if output.suffix.lower() not in Image.registered_extensions():
        raise StyleTransferError(f"cannot tell the image format of {output.name!r}; "
                                 "use .png, .jpg or .webp")
    limit = get_settings().max_image_megapixels
    content_image = load_image(content, "content image", limit)
    style_images = [load_image(p, f"style image {p.name!r}", limit) for p in styles]
    with progress_bar("stylize", options.engine) as report:
        result = stylize_image(content_image, style_images, options, on_progress=report)
    extra = {"quality": 95} if output.suffix.lower() in (".jpg", ".jpeg", ".webp") else {}
    result.save(output, **extra)


def _stylize_video(content: Path, styles: list[Path], output: Path,
                   options: StyleOptions) -> None:
    from app.engine.images import load_image
    from app.settings import get_settings

    try:
        from app.video.pipeline import stylize_video
    except ModuleNotFoundError as exc:
        if exc.name not in ("app.video.pipeline", "av"):
            raise
        raise StyleTransferError(f"video support is not installed here ({exc.name} is "
                                 "missing)") from None

    limit = get_settings().max_image_megapixels
    style_images = [load_image(p, f"style image {p.name!r}", limit) for p in styles]
    with progress_bar("stylize video", options.engine) as report:
        stylize_video(content, output, style_images, options, on_progress=report, cancel=None)
