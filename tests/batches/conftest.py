"""Batches run in a real app (tests/web/conftest.py's fixtures): SQLite file, media folder,
a worker with the real MicroAST weights."""

from __future__ import annotations

import io
import zipfile

from tests.support.images import png_bytes
from tests.web.conftest import client, make_settings, paused_client  # noqa: F401

STYLE = [("style", ("style.png", png_bytes(seed=3), "image/png"))]
FORM = {"engine": "microast", "size": "96"}


def zip_of(members: dict[str, bytes]) -> bytes:
    """A ZIP (deflated) holding ``members``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, data in members.items():
            zipped.writestr(name, data)
    return buffer.getvalue()


def photos(count: int) -> dict[str, bytes]:
    """``count`` different small PNG photos, named like a camera names them."""
    return {f"IMG_{i:04d}.png": png_bytes(seed=10 + i) for i in range(count)}
