"""Shared fixtures: generated AdaIN checkpoints and small photos from ../shared/media."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from app.engine.images import load_image
from tests.support.checkpoints import write_adain_checkpoints
from tests.support.shared import shared_file


def media(name: str, side: int = 64) -> Image.Image:
    """A photo from ../shared/media scaled so its longer side is ``side``."""
    image = load_image(shared_file(f"media/{name}"))
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return image


@pytest.fixture(scope="session")
def adain_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_adain_checkpoints(tmp_path_factory.mktemp("weights"), seed=0)


@pytest.fixture(scope="session")
def content() -> Image.Image:
    return media("astronaut.png", 64)


@pytest.fixture(scope="session")
def style() -> Image.Image:
    return media("hubble_deep_field.jpg", 64)


@pytest.fixture(scope="session")
def style2() -> Image.Image:
    return media("chelsea.png", 64)
