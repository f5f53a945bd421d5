"""Enhance: a 2x version of a finished picture, made by running its engine again larger.

The job layer decides the new size (:func:`enhanced_side`, up to the studio's limit); the
engine child then enlarges the photo to exactly that size (:func:`enlarge_to_fit`, since an
ordinary job never enlarges a photo) and, for an engine that refines a result (the
painterly ones), also the earlier result as the picture to start from. A feed-forward
engine runs the enlarged photo on seamless tiles of the first run's size
(:mod:`app.engine.tiling`); the painterly ones optimise from the enlarged result.
"""

from __future__ import annotations

from PIL import Image

from app.engine.images import fit_size

FACTOR = 2


def enhanced_side(width: int, height: int, limit: int) -> int | None:
    """The longer side of the 2x version of a ``width`` x ``height`` picture, at most
    ``limit``; None when the picture is at the limit already."""
    side = max(width, height)
    if side >= limit:
        return None
    return min(FACTOR * side, limit)


def enlarged_size(width: int, height: int, side: int, multiple: int = 8) -> tuple[int, int]:
    """``(width, height)`` scaled, up or down, so the longer side is ``side``, each side a
    multiple of ``multiple`` (the size an engine makes at ``max_side = side``)."""
    scale = side / max(width, height)
    big = (max(multiple, round(width * scale)), max(multiple, round(height * scale)))
    return fit_size(*big, side, multiple)


def enlarge_to_fit(image: Image.Image, side: int, multiple: int = 8) -> Image.Image:
    """``image`` scaled (Lanczos) to :func:`enlarged_size`: an engine run at ``max_side =
    side`` then takes it as it is."""
    size = enlarged_size(image.width, image.height, side, multiple)
    return image if image.size == size else image.convert("RGB").resize(
        size, Image.Resampling.LANCZOS)
