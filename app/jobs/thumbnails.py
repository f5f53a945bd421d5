"""Small JPEGs made once per result: gallery thumbnails, Gatys previews, video posters."""

from __future__ import annotations

import io

from PIL import Image

from app.storage import MediaStore

THUMB_SIDE = 400
PREVIEW_SIDE = 512


def jpeg_bytes(image: Image.Image, max_side: int | None = None, quality: int = 85) -> bytes:
    """``image`` as a metadata-free RGB JPEG, shrunk to ``max_side`` when given."""
    image = image.convert("RGB")
    if max_side and max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def write_thumbnail(store: MediaStore, image: Image.Image, rel: str) -> str:
    """Write a ~400 px JPEG thumbnail of ``image`` at ``rel``; returns ``rel``."""
    store.write_atomic(rel, jpeg_bytes(image, THUMB_SIDE))
    return rel


def write_preview(store: MediaStore, image: Image.Image, rel: str) -> str:
    """Write (or overwrite) a job's intermediate preview JPEG at ``rel``; returns ``rel``."""
    store.write_atomic(rel, jpeg_bytes(image, PREVIEW_SIDE, quality=80))
    return rel
