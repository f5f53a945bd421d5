"""``dreamgen stylize DIR STYLE... -o OUTDIR``: every photo of a folder with the same styles
and settings. A result is written to a temporary name and renamed when whole, so a run that
is stopped leaves no half file, and a second run skips the photos whose result is already
in OUTDIR. A photo that cannot be made is reported and the others go on."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ContextManager

import click

from app.engine.errors import StyleTransferError

if TYPE_CHECKING:
    from app.engine.options import StyleOptions

ProgressBar = Callable[[str, str, Any], ContextManager[Callable[[Any], None]]]
KEPT_SUFFIXES = {".jpg": ".jpg", ".jpeg": ".jpg", ".png": ".png", ".webp": ".webp"}


@dataclass
class FolderRun:
    """What a run did: results made, photos skipped as already done, photos that failed."""

    made: list[str] = field(default_factory=list)
    done_before: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def photos_in(folder: Path) -> list[Path]:
    """The folder's photos (by their first bytes, not their names), in name order; clips,
    text and subfolders are left alone."""
    from app.uploads.checks import sniff_image

    found = []
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            with open(path, "rb") as handle:
                if sniff_image(handle.read(16)):
                    found.append(path)
    return found


def result_name(photo: Path) -> str:
    """``cat.jpg`` gives ``cat.jpg``; a GIF or HEIC photo gives a PNG."""
    return photo.stem + KEPT_SUFFIXES.get(photo.suffix.lower(), ".png")


def stylize_folder(folder: Path, style_images: list[Any], outdir: Path,
                   options: "StyleOptions", progress_bar: ProgressBar) -> FolderRun:
    """Make a result in ``outdir`` for each photo of ``folder`` that has none yet, with the
    loaded ``style_images``, each with its own ``progress_bar`` (:func:`app.cli.make.
    progress_bar`)."""
    from app.cli.base import weight_store
    from app.engine.dispatch import stylize_image
    from app.engine.images import load_image

    photos = photos_in(folder)
    if not photos:
        raise StyleTransferError(f"there is no photo (JPEG, PNG, WebP, GIF or HEIC) in "
                                 f"{str(folder)!r}")
    outdir.mkdir(parents=True, exist_ok=True)
    store, run = weight_store(), FolderRun()
    for number, photo in enumerate(photos, 1):
        target = outdir / result_name(photo)
        if target.exists():
            run.done_before.append(photo.name)
            continue
        try:
            content = load_image(photo, f"photo {photo.name!r}", options.max_megapixels)
            with progress_bar(f"{number}/{len(photos)} {photo.name}", options.engine,
                              store) as report:
                result = stylize_image(content, style_images, options, store,
                                       on_progress=report)
        except StyleTransferError as exc:
            run.failed.append((photo.name, " ".join(str(exc).split())))
            click.echo(f"failed {photo.name}: {run.failed[-1][1]}", err=True)
            continue
        _save_whole(result, target)
        run.made.append(target.name)
    return run


def _save_whole(image: "object", target: Path) -> None:
    """Save under a temporary name, then rename: a result in OUTDIR is always whole."""
    temp = target.with_name(f".{target.stem}.part{target.suffix}")
    extra = {"quality": 95} if target.suffix in (".jpg", ".webp") else {}
    try:
        image.save(temp, **extra)  # type: ignore[attr-defined]
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
