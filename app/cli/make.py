"""``dreamgen stylize``: one picture or clip from the command line, with a progress bar."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import click

from app.cli.base import main, user_errors, weight_store
from app.engine.dispatch import check_style_count, resolve_engine
from app.engine.errors import StyleTransferError
from app.engine.options import option_help
from app.engine.registry import CHOICES

if TYPE_CHECKING:
    from app.engine.options import StyleOptions
    from app.engine.types import Progress
    from app.engine.weights.store import WeightStore

VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi"}


@main.command()
@click.argument("content", type=click.Path(path_type=Path))
@click.argument("styles", nargs=-1, metavar="STYLE...", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Result image (or video, when CONTENT is a video); a folder when CONTENT "
              "is a folder of photos (photos with a result there already are skipped).")
@click.option("--engine", type=click.Choice(CHOICES), default="auto", show_default=True)
@click.option("--model", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Paint with this fast model (.safetensors from `dreamgen train` or a "
                   "studio's export) instead of STYLE images; --style-weights mix its styles.")
@click.option("--alpha", type=float, default=None, help=option_help("alpha"))
@click.option("--style-weights", default=None, help=option_help("style_weights"))
@click.option("--preserve-color", is_flag=True, help=option_help("preserve_color"))
@click.option("--size", type=int, default=None, help=option_help("size"))
@click.option("--iterations", type=int, default=None, help=option_help("iterations"))
@click.option("--device", default=None, help="auto, cpu, cuda or cuda:N.")
@click.option("--seed", type=int, default=None, help=option_help("seed"))
@click.option("--start", "trim_start", type=float, default=None, help=option_help("trim_start"))
@click.option("--end", "trim_end", type=float, default=None, help=option_help("trim_end"))
def stylize(content: Path, styles: tuple[Path, ...], output: Path, engine: str,
            model: Path | None, alpha: float | None, style_weights: str | None,
            preserve_color: bool, size: int | None, iterations: int | None,
            device: str | None, seed: int | None, trim_start: float | None,
            trim_end: float | None) -> None:
    """Stylise CONTENT (an image, a video, or a folder of photos) with one or more STYLE
    images, or with a fast model (--model)."""
    with user_errors():
        if content.is_dir():
            if model is not None:
                raise StyleTransferError("--model paints one picture or clip at a time; give "
                                         "a file as CONTENT, or STYLE images for a folder")
            _stylize_folder(content, list(styles), output, build_options(dict(
                engine=engine, alpha=alpha, style_weights=style_weights,
                preserve_color=preserve_color, size=size, iterations=iterations, seed=seed),
                device))
            return
        if not content.is_file():
            raise StyleTransferError(f"content {str(content)!r} does not exist")
        if model is not None:
            engine = _model_engine(model, styles)
        elif not styles:
            raise StyleTransferError("give one or more STYLE images, or a fast model with "
                                     "--model")
        options = build_options(dict(engine=engine, alpha=alpha, style_weights=style_weights,
                                     preserve_color=preserve_color, size=size,
                                     iterations=iterations, seed=seed, trim_start=trim_start,
                                     trim_end=trim_end), device,
                                model_path=str(model) if model is not None else None)
        check_style_count(resolve_engine(options.engine, weight_store()), len(styles),
                          options.style_weights)
        output.parent.mkdir(parents=True, exist_ok=True)
        make(content, list(styles), output, options)
    click.echo(f"wrote {output}")


def _stylize_folder(folder: Path, styles: list[Path], outdir: Path,
                    options: "StyleOptions") -> None:
    """Every photo of ``folder`` into ``outdir``, then what was made, skipped and failed
    (exit status 1 when a photo failed)."""
    from app.cli.folder import stylize_folder

    check_style_count(resolve_engine(options.engine, weight_store()), len(styles),
                      options.style_weights)
    run = stylize_folder(folder, _load_styles(styles, options), outdir, options, progress_bar)
    click.echo(f"wrote {len(run.made)} to {outdir}; {len(run.done_before)} already done, "
               f"{len(run.failed)} failed")
    if run.failed:
        raise SystemExit(1)


def build_options(values: dict[str, Any], device: str | None,
                  model_path: str | None = None) -> "StyleOptions":
    """The options schema applied to what a person typed, on ``device`` (default: the
    settings'), with this machine's image and model limits."""
    from app.engine.device import pick_device
    from app.engine.options import parse_options
    from app.settings import get_settings

    settings = get_settings()
    device = device or settings.device
    pick_device(device)  # an unknown device or a missing GPU fails here, before any work
    return parse_options(values, device=device, max_megapixels=settings.max_image_megapixels,
                         model_path=model_path, max_model_mb=settings.max_model_mb)


def _model_engine(model: Path, styles: tuple[Path, ...]) -> str:
    """The engine that paints with a fast model (no STYLE images beside it), once the
    model file passed its checks (before any progress bar starts)."""
    from app.engine.methods.trained.model_file import megabytes, read_model
    from app.engine.registry import ENGINES
    from app.settings import get_settings

    if styles:
        raise StyleTransferError("a fast model paints its own styles: give --model or STYLE "
                                 "images, not both")
    if not model.is_file():
        raise StyleTransferError(f"model {str(model)!r} does not exist")
    read_model(model, megabytes(get_settings().max_model_mb))
    return next(spec.name for spec in ENGINES if spec.takes_model)


def make(content: Path, styles: list[Path], output: Path, options: "StyleOptions") -> None:
    """Make ``output`` from ``content`` (a picture or a clip) with the engine ``options``
    names."""
    store = weight_store()
    if is_video(content):
        make_video(content, styles, output, options, store)
    else:
        _make_image(content, styles, output, options, store)


def is_video(path: Path) -> bool:
    """A video by extension, or by its first bytes (an animated GIF counts, a still does not)."""
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return True
    from app.video.probe import is_video_file

    return is_video_file(path)


@contextlib.contextmanager
def progress_bar(description: str, engine: str, store: "WeightStore"
                 ) -> Iterator[Callable[["Progress"], None]]:
    """A tqdm bar in percent, fed by the engines' progress callback. Checks ``engine``'s
    weights first, so a missing file is one error line, not a broken bar."""
    from tqdm import tqdm

    from app.engine.dispatch import resolve_engine

    spec = resolve_engine(engine, store)
    try:
        store.engine_paths(spec)
    except StyleTransferError as exc:
        raise StyleTransferError(f"{exc} Fetch it with `dreamgen weights download "
                                 f"{spec.name}` or `dreamgen weights import FOLDER`.") from None
    with tqdm(total=100, desc=description, file=sys.stderr,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]{postfix}"
              ) as bar:
        def report(progress: "Progress") -> None:
            bar.n = min(100.0, max(0.0, progress.fraction * 100))
            bar.set_postfix_str(progress.message, refresh=False)
            bar.refresh()

        yield report


def _load_styles(styles: list[Path], options: "StyleOptions") -> list[Any]:
    from app.engine.images import load_image

    return [load_image(p, f"style image {p.name!r}", options.max_megapixels) for p in styles]


def _make_image(content: Path, styles: list[Path], output: Path, options: "StyleOptions",
                store: "WeightStore") -> None:
    from PIL import Image

    from app.engine.dispatch import stylize_image
    from app.engine.images import load_image

    if output.suffix.lower() not in Image.registered_extensions():
        raise StyleTransferError(f"cannot tell the image format of {output.name!r}; "
                                 "use .png, .jpg or .webp")
    content_image = load_image(content, "content image", options.max_megapixels)
    style_images = _load_styles(styles, options)
    with progress_bar("stylize", options.engine, store) as report:
        result = stylize_image(content_image, style_images, options, store, on_progress=report)
    extra = {"quality": 95} if output.suffix.lower() in (".jpg", ".jpeg", ".webp") else {}
    result.save(output, **extra)


def make_video(content: Path, styles: list[Path], output: Path, options: "StyleOptions",
                store: "WeightStore") -> None:
    from app.engine.dispatch import make_frame_stylizer
    from app.settings import get_settings
    from app.video.pipeline import stylize_video
    from app.video.probe import VideoLimits

    settings = get_settings()
    style_images = _load_styles(styles, options)
    with progress_bar("video", options.engine, store) as report:
        stylizer = make_frame_stylizer(style_images, options, store)
        stylize_video(content, output, stylizer, options.max_side,
                      VideoLimits.from_settings(settings), on_progress=report,
                      trim=(options.trim_start, options.trim_end),
                      segment_seconds=settings.video_segment_seconds)
