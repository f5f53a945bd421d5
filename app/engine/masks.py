"""Masks: where a picture's style goes, for every engine.

A mask is a greyscale picture: white where the person painted (the style goes there), black
elsewhere (the photo stays, or a second style goes there). It may come at any size; it is
scaled to the result's size (:func:`fit_mask`) and its edges are feathered by a Gaussian blur
of :func:`feather_radius` pixels (1% of the result's longer side, at least
:data:`MIN_FEATHER_PX`), so a brushed edge never shows as a line. A mask with nothing painted,
or painted all over, means "no mask" (:func:`is_blank`).

Each engine uses the soft mask its own way (feature-space statistics, masked Gram matrices,
masked dream steps, in its home under :mod:`app.engine.methods`); what is left is generic and
here: reading, scaling, feathering, the mask as a tensor at a feature map's size, and keeping
the photo outside the mask (:func:`keep_photo_outside`) when no second style goes there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter

from app.engine.images import open_decoded

FEATHER_SHARE = 0.01      # the feather's radius: this share of the result's longer side ...
MIN_FEATHER_PX = 2        # ... and at least this many pixels
BLANK_LEVEL = 3           # a mask whose every pixel is within this of black or white is blank


def feather_radius(size: tuple[int, int]) -> int:
    """The Gaussian feather's radius in pixels for a result of ``size`` (width, height)."""
    return max(MIN_FEATHER_PX, round(FEATHER_SHARE * max(size)))


def as_mask(image: Image.Image) -> Image.Image:
    """``image`` as an 8-bit greyscale mask; a transparent pixel counts as unpainted (a
    canvas exported with an alpha channel)."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        grey = np.asarray(rgba.convert("L"), dtype=np.float32)
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255.0
        return Image.fromarray(np.round(grey * alpha).astype(np.uint8), "L")
    return image.convert("L")


def is_blank(mask: Image.Image) -> bool:
    """Whether ``mask`` paints nothing or everything: either way it means "no mask"."""
    low, high = as_mask(mask).getextrema()
    return high <= BLANK_LEVEL or low >= 255 - BLANK_LEVEL


def load_mask(source: Path | bytes, what: str = "the mask",
              max_megapixels: float = 40.0) -> Image.Image:
    """The mask in ``source`` (a file or its bytes), fully decoded, as 8-bit greyscale;
    :class:`~app.engine.errors.StyleTransferError` for one that is damaged or too large."""
    return as_mask(open_decoded(source, what, max_megapixels))


def read_mask(source: Path | bytes, max_megapixels: float = 40.0) -> Image.Image | None:
    """:func:`load_mask`, None when the mask is blank (no mask)."""
    mask = load_mask(source, "the mask", max_megapixels)
    return None if is_blank(mask) else mask


def fit_mask(mask: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``mask`` scaled to ``size`` (width, height) and feathered by :func:`feather_radius`."""
    scaled = as_mask(mask)
    if scaled.size != size:
        scaled = scaled.resize(size, Image.Resampling.BILINEAR)
    return scaled.filter(ImageFilter.GaussianBlur(feather_radius(size)))


def mask_tensor(mask: Image.Image, device: torch.device | str = "cpu") -> torch.Tensor:
    """A greyscale mask as a (1, 1, H, W) float32 tensor in [0, 1]."""
    array = np.asarray(as_mask(mask), dtype=np.float32) / 255.0
    return torch.from_numpy(array.copy())[None, None].to(device)


def region_at(region: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A (1, 1, H, W) soft region at a feature map's ``size`` (height, width): the share
    of each feature cell's pixels that is painted (area averaging)."""
    if tuple(region.shape[-2:]) == tuple(size):
        return region
    return F.interpolate(region, size=size, mode="area") if size[0] <= region.shape[-2] \
        else F.interpolate(region, size=size, mode="bilinear", align_corners=False)


def keep_photo_outside(result: Image.Image, photo: Image.Image,
                       mask: Image.Image) -> Image.Image:
    """``result`` where ``mask`` is painted, ``photo`` (scaled to the result) elsewhere,
    blended by the (already feathered) mask: ``m * result + (1 - m) * photo``."""
    if photo.size != result.size:
        photo = photo.resize(result.size, Image.Resampling.LANCZOS)
    if mask.size != result.size:
        mask = mask.resize(result.size, Image.Resampling.BILINEAR)
    return Image.composite(result.convert("RGB"), photo.convert("RGB"), as_mask(mask))
