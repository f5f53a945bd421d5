"""``dreamgen dream``: a Deep Dream picture or clip from the command line, with a progress
bar."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, get_args

import click

from app.cli.base import main, user_errors, weight_store
from app.cli.make import build_options, is_video, make_video, progress_bar
from app.engine.errors import StyleTransferError
from app.engine.options import DreamDepth, DreamNetwork, option_help
from app.engine.registry import dream_engine

if TYPE_CHECKING:
    from app.engine.options import StyleOptions
    from app.engine.weights.store import WeightStore

DEPTHS: tuple[str, ...] = get_args(DreamDepth)
NETWORKS: tuple[str, ...] = get_args(DreamNetwork)


@main.command()
@click.argument("content", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Result image (or video, when CONTENT is a video).")
@click.option("--guide", type=click.Path(path_type=Path), default=None,
              help="Dream towards this image's features instead of the photo's own.")
@click.option("--depth", type=click.Choice(DEPTHS), default=None, help=option_help("depth"))
@click.option("--octaves", type=int, default=None, help=option_help("octaves"))
@click.option("--octave-scale", type=float, default=None, help=option_help("octave_scale"))
@click.option("--iterations", type=int, default=None, help=option_help("dream_iterations"))
@click.option("--strength", type=float, default=None, help=option_help("strength"))
@click.option("--size", type=int, default=None, help=option_help("size"))
@click.option("--network", type=click.Choice(NETWORKS), default=None,
              help=option_help("network"))
@click.option("--seed", type=int, default=None, help=option_help("seed"))
@click.option("--device", default=None, help="auto, cpu, cuda or cuda:N.")
@click.option("--start", "trim_start", type=float, default=None, help=option_help("trim_start"))
@click.option("--end", "trim_end", type=float, default=None, help=option_help("trim_end"))
def dream(content: Path, output: Path, guide: Path | None, depth: str | None,
          octaves: int | None, octave_scale: float | None, iterations: int | None,
          strength: float | None, size: int | None, network: str | None, seed: int | None,
          device: str | None, trim_start: float | None, trim_end: float | None) -> None:
    """Deep Dream on CONTENT (an image or a clip): a network's dreams grown out of it; in a
    clip, each frame starts from the previous dream carried along the motion."""
    with user_errors():
        for path, what in ((content, "content"), (guide, "guide image")):
            if path is not None and not path.is_file():
                raise StyleTransferError(f"{what} {str(path)!r} does not exist")
        options = build_options(dict(engine=dream_engine().name, depth=depth, octaves=octaves,
                                     octave_scale=octave_scale, dream_iterations=iterations,
                                     strength=strength, size=size, network=network,
                                     seed=seed, trim_start=trim_start, trim_end=trim_end),
                                device)
        output.parent.mkdir(parents=True, exist_ok=True)
        store = weight_store()
        if is_video(content):
            check_network(options, store)
            make_video(content, [guide] if guide else [], output, options, store)
        else:
            dream_picture(content, guide, output, options, store)
    click.echo(f"wrote {output}")


def check_network(options: "StyleOptions", store: "WeightStore") -> None:
    """A network asked for by name must be installed; say how to fetch it if not."""
    from app.engine.methods.deepdream.networks import NETWORKS as BY_NAME

    if options.network == "auto":
        return
    name = BY_NAME[options.network].weight
    found = store.locate(store.pinned(name))
    if found.state != "verified":
        raise StyleTransferError(f"the {options.network} network needs {name}, which is "
                                 f"{found.state}; fetch it with `dreamgen weights download "
                                 f"{name}` or `dreamgen weights import FOLDER`, or use "
                                 "--network auto")


def dream_picture(content: Path, guide: Path | None, output: Path, options: "StyleOptions",
                  store: "WeightStore") -> None:
    """Dream ``content`` (towards ``guide`` when given) into ``output``."""
    from PIL import Image

    from app.engine.dispatch import stylize_image
    from app.engine.images import load_image

    if output.suffix.lower() not in Image.registered_extensions():
        raise StyleTransferError(f"cannot tell the image format of {output.name!r}; "
                                 "use .png, .jpg or .webp")
    check_network(options, store)
    content_image = load_image(content, "content image", options.max_megapixels)
    guides = [] if guide is None else [load_image(guide, "guide image",
                                                  options.max_megapixels)]
    with progress_bar("dream", options.engine, store) as report:
        result = stylize_image(content_image, guides, options, store, on_progress=report)
    extra = {"quality": 95} if output.suffix.lower() in (".jpg", ".jpeg", ".webp") else {}
    result.save(output, **extra)
