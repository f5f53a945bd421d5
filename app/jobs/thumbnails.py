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


def save_thumbnail(store: MediaStore, image: Image.Image) -> str:
    """Write a ~400 px JPEG thumbnail of ``image``; returns its relative path."""
    rel = store.new_path("thumbs", ".jpg")
    store.write_atomic(rel, jpeg_bytes(image, THUMB_SIDE))
    return rel


def save_preview(store: MediaStore, image: Image.Image, rel: str | None = None) -> str:
    """Write (or overwrite) a job's intermediate preview JPEG; returns its relative path."""
    rel = rel or store.new_path("previews", ".jpg")
    store.write_atomic(rel, jpeg_bytes(image, PREVIEW_SIDE, quality=80))
    return rel


def save_poster(store: MediaStore, image: Image.Image) -> str:
    """Write a full-size poster frame for a video result; returns its relative path."""
    rel = store.new_path("thumbs", ".jpg")
    store.write_atomic(rel, jpeg_bytes(image, quality=90))
    return rel
