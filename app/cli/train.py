"""``dreamgen train``: a fast model from the command line, for the admin with a photo
collection (``--content DIR``) or anyone with a GPU, with a progress bar.

A checkpoint is kept beside the output (``MODEL.checkpoint``) every
``DREAMGEN_TRAIN_CHECKPOINT_STEPS`` steps: run the same command again after an interruption
and it resumes there (a checkpoint of other settings is ignored). The model is written
atomically; ``dreamgen stylize CONTENT --model MODEL -o OUT`` paints with it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import click

from app.cli.base import main, user_errors
from app.engine.errors import StyleTransferError
from app.engine.methods.trained.train_options import TrainOptions


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _atomic_write(path: Path, write) -> None:  # type: ignore[no-untyped-def]
    temp = path.with_name(f".{path.name}.part")
    try:
        write(temp)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


@main.command()
@click.argument("styles", nargs=-1, required=True, metavar="STYLE...",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The model file to write (.safetensors).")
@click.option("--content", "content_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Folder of photos to train on (default: "
                                 "DREAMGEN_TRAIN_PHOTOS_DIR, else the bundled sample photos).")
@click.option("--steps", type=int, default=None, help="Training steps (default: 2000).")
@click.option("--size", type=int, default=None,
              help="Side of the photo crops it trains on, in pixels (default: 256).")
@click.option("--width", type=int, default=None,
              help="Network width: 8, 16 (default), 32 (the paper's) or 64.")
@click.option("--base", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Add the styles to this model: only their own parameters "
                                 "train, the convolutions stay frozen.")
@click.option("--seed", type=int, default=None, help="Random seed (default: 0).")
@click.option("--device", default=None, help="auto, cpu, cuda or cuda:N.")
def train(styles: tuple[Path, ...], output: Path, content_dir: Path | None, steps: int | None,
          size: int | None, width: int | None, base: Path | None, seed: int | None,
          device: str | None) -> None:
    """Train a fast model for one or more STYLE images (one network; one set of
    normalisation parameters per style)."""
    with user_errors():
        if output.suffix != ".safetensors":
            raise StyleTransferError("the model file must end in .safetensors")
        output.parent.mkdir(parents=True, exist_ok=True)
        _train(list(styles), output, content_dir, dict(steps=steps, size=size, width=width,
                                                      seed=seed), base, device)
    click.echo(f"wrote {output}")


def _train(styles: list[Path], output: Path, content_dir: Path | None,
           values: dict[str, int | None], base: Path | None, device: str | None) -> None:
    from tqdm import tqdm

    from app.cli.base import weight_store
    from app.engine.device import pick_device
    from app.engine.images import load_image
    from app.engine.methods.trained import TRAINING_FILES
    from app.engine.methods.trained.fit import FitPlan, fit
    from app.engine.methods.trained.model_file import megabytes, read_header
    from app.engine.methods.trained.photos import (
        PhotoSet,
        load_photos,
        photos_in,
        sample_photos,
    )
    from app.engine.methods.trained.train_options import parse_train_options
    from app.people.titles import title_from_name
    from app.settings import get_settings

    settings = get_settings()
    device = device or settings.device
    pick_device(device)
    if base is not None:          # new styles keep the model's network shape
        shape = read_header(base).network
        values = {**values, "width": shape.width, "blocks": shape.blocks}
    options: TrainOptions = parse_train_options(values)
    folder = content_dir or settings.train_photos_dir
    paths = photos_in(folder) if folder is not None else sample_photos()
    photos = PhotoSet(load_photos(paths, options.size, settings.max_image_megapixels))
    images = [load_image(p, f"style image {p.name!r}", settings.max_image_megapixels)
              for p in styles]
    checkpoint = output.with_name(output.name + ".checkpoint")
    plan = FitPlan(options, images, [title_from_name(p.name) or p.stem for p in styles],
                   photos, photos.photos[0], base=base,
                   checkpoint=checkpoint if checkpoint.is_file() else None,
                   identity={"options": options.stored(),
                             "styles": [_digest(p) for p in styles],
                             "base": _digest(base) if base else None},
                   checkpoint_every=settings.train_checkpoint_steps,
                   preview_every=max(options.steps, 1),
                   max_model_bytes=megabytes(settings.max_model_mb),
                   max_megapixels=settings.max_image_megapixels)
    with tqdm(total=options.steps, desc="train", unit="step") as bar:
        def report(progress) -> None:  # type: ignore[no-untyped-def]
            bar.n = int(progress.extras.get("step", bar.n))
            bar.set_postfix_str(progress.message.split(" · ", 1)[-1], refresh=False)
            bar.refresh()

        data, _ = fit(plan, weight_store().resolve(TRAINING_FILES[0].name), device,
                      lambda step, write: _atomic_write(checkpoint, write), report)
    _atomic_write(output, lambda temp: temp.write_bytes(data))
    checkpoint.unlink(missing_ok=True)
