"""Shared fixtures: the shared weights folder, and small real images."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.shared import shared_dir


def png_bytes(size: tuple[int, int] = (96, 64), seed: int = 0) -> bytes:
    """A small PNG with some structure (gradients), different per ``seed``."""
    width, height = size
    image = Image.new("RGB", size)
    image.putdata([((x * 255 // width + seed * 40) % 256, (y * 255 // height) % 256,
                    ((x + y) * 7 + seed * 90) % 256) for y in range(height) for x in range(width)])
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def shared_weights(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the process-wide settings at ``../shared/weights`` (real MicroAST weights)."""
    from app.settings import get_settings

    folder = shared_dir("weights")
    monkeypatch.setenv("DREAMGEN_WEIGHTS_DIR", str(folder))
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()
