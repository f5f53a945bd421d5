"""The photos a network trains on, and the random crops each step sees.

Photos come from a folder (the admin's collection), from files (the owner's uploads), from
the sample photos that ship with dreamgen (:func:`sample_photos`), or from a clip's own
frames ("train on this clip": :func:`photo_tensor` of each, decoded by the job). Each is kept small (its shorter side at
most twice the crop side), and every step takes random crops at a random scale, flipped at
random (:class:`PhotoSet`), drawn from a generator seeded by the step so a resumed run sees
the same crops the uninterrupted one would have.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable

import torch
import torch.nn.functional as F
from PIL import Image

from app.engine.errors import StyleTransferError
from app.engine.images import load_image, pil_to_tensor

log = logging.getLogger("dreamgen.train")

SAMPLES = Path(__file__).resolve().parent / "samples"
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".bmp", ".tif", ".tiff")
MAX_PHOTOS = 5000            # a folder's first photos, in name order
SCALE_RANGE = (1.0, 2.0)     # a crop's photo is scaled so its shorter side is this x the crop


def sample_photos() -> list[Path]:
    """The small CC0 / public-domain photos that ship with dreamgen (``samples/SOURCES.md``)."""
    return sorted(p for p in SAMPLES.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)


def photos_in(folder: Path) -> list[Path]:
    """The photos in ``folder`` and its subfolders, by name (at most :data:`MAX_PHOTOS`)."""
    if not folder.is_dir():
        raise StyleTransferError(f"the photo folder {str(folder)!r} does not exist")
    found = sorted(p for p in folder.rglob("*")
                   if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
    return found[:MAX_PHOTOS]


def _shrunk(image: Image.Image, shorter: int) -> Image.Image:
    scale = shorter / min(image.size)
    if scale >= 1.0:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def load_photos(paths: Iterable[Path], crop: int, max_megapixels: float = 40.0
                ) -> list[torch.Tensor]:
    """Each readable photo of ``paths`` as (3, H, W) in [0, 1], its shorter side at most
    twice ``crop``; unreadable ones are skipped (and logged): a folder of thousands should
    not fail for one bad file."""
    photos = []
    for path in paths:
        try:
            image = load_image(path, f"photo {path.name!r}", max_megapixels)
        except StyleTransferError as exc:
            log.warning("training: skipped %s (%s)", path, exc)
            continue
        photos.append(photo_tensor(image, crop))
    return photos


def photo_tensor(image: Image.Image, crop: int) -> torch.Tensor:
    """One photo (or a clip's frame) as (3, H, W) in [0, 1], its shorter side at most twice
    ``crop``."""
    return pil_to_tensor(_shrunk(image.convert("RGB"), 2 * crop))[0]


class PhotoSet:
    """Random training crops from a list of photos."""

    def __init__(self, photos: list[torch.Tensor]) -> None:
        if not photos:
            raise StyleTransferError("there are no photos to train on")
        self.photos = photos

    def __len__(self) -> int:
        return len(self.photos)

    def crops(self, count: int, side: int, generator: torch.Generator) -> torch.Tensor:
        """(count, 3, side, side): each a random photo scaled so its shorter side is between
        1 and 2 crop sides, a random crop of it, flipped left-right half the time."""
        out = []
        for _ in range(count):
            photo = self.photos[int(torch.randint(len(self.photos), (1,), generator=generator))]
            low, high = SCALE_RANGE
            scale = (low + (high - low) * float(torch.rand((), generator=generator))) * side \
                / min(photo.shape[-2:])
            height = max(side, round(photo.shape[-2] * scale))
            width = max(side, round(photo.shape[-1] * scale))
            scaled = F.interpolate(photo[None], size=(height, width), mode="bilinear",
                                   align_corners=False, antialias=scale < 1.0)[0]
            top = int(torch.randint(height - side + 1, (1,), generator=generator))
            left = int(torch.randint(width - side + 1, (1,), generator=generator))
            crop = scaled[:, top:top + side, left:left + side]
            if float(torch.rand((), generator=generator)) < 0.5:
                crop = crop.flip(-1)
            out.append(crop)
        return torch.stack(out).clamp_(0.0, 1.0)
