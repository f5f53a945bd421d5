"""The child side of strength previews and saved versions: renders that run in a fresh child
process (:func:`app.isolation.run_isolated`), never in the web process. The child reads the
job's strength-preview state (:mod:`app.engine.strength_preview`) and the engine's weights
and hands back encoded bytes. Nothing here touches the database, so the child imports
nothing the fork server has not loaded already (it preloads :mod:`app.jobs.execute`, which
loads the engines)."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from app.engine.strength_preview import downscaled, load_state, preview_factor, render
from app.jobs.thumbnails import THUMB_SIDE, jpeg_bytes

PREVIEW_QUALITY = 85


@dataclass(frozen=True)
class StrengthRender:
    """What the child needs: the state file, the engine, the strength, and the engine's
    weight files (name to verified path)."""

    state_path: str
    engine: str
    alpha: float
    weights: dict[str, str]


@dataclass(frozen=True)
class RenderedVersion:
    """A full-size render: the PNG, its thumbnail, its size, how long it took."""

    png: bytes
    thumb: bytes
    width: int
    height: int
    seconds: float


def _paths(request: StrengthRender) -> dict[str, Path]:
    return {name: Path(path) for name, path in request.weights.items()}


def quick_preview_jpeg(request: StrengthRender) -> bytes:
    """(In a child.) A JPEG of the picture at ``request.alpha``, decoded at a size that
    keeps it well under a second (:func:`~app.engine.strength_preview.preview_factor`)."""
    state = load_state(Path(request.state_path))
    small = downscaled(state, request.engine, preview_factor(state, request.engine))
    image = render(small, request.engine, request.alpha, _paths(request))
    return jpeg_bytes(image, quality=PREVIEW_QUALITY)


def full_version(request: StrengthRender) -> RenderedVersion:
    """(In a child.) The picture at ``request.alpha`` at full size, as a metadata-free PNG
    and a thumbnail."""
    started = time.perf_counter()
    image = render(load_state(Path(request.state_path)), request.engine, request.alpha,
                   _paths(request))
    buffer = io.BytesIO()
    clean = Image.new("RGB", image.size)
    clean.paste(image)
    clean.save(buffer, "PNG")
    return RenderedVersion(buffer.getvalue(), jpeg_bytes(clean, THUMB_SIDE), clean.width,
                           clean.height, time.perf_counter() - started)
