"""Small real pictures made on the spot."""

from __future__ import annotations

import io

from PIL import Image


def png_bytes(size: tuple[int, int] = (96, 64), seed: int = 0) -> bytes:
    """A small PNG with some structure (gradients), different per ``seed``."""
    width, height = size
    image = Image.new("RGB", size)
    image.putdata([((x * 255 // width + seed * 40) % 256, (y * 255 // height) % 256,
                    ((x + y) * 7 + seed * 90) % 256) for y in range(height) for x in range(width)])
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
