from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner
from PIL import Image

from app.settings import get_settings
from tests.weights.support import FileServer, isolate_weights, running_server, shared_dir


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty weights cache under tmp_path, no weights_dir, online, no mirror."""
    folder = tmp_path / "cache"
    isolate_weights(monkeypatch, folder)
    yield folder
    get_settings.cache_clear()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def server() -> Iterator[FileServer]:
    with running_server() as running:
        yield running


@pytest.fixture
def tiny_images(tmp_path: Path) -> dict[str, Path]:
    """64-px copies of two shared photos and a texture (content, style, second style)."""
    media = shared_dir("media")
    paths = {}
    for key, name in (("content", "chelsea.png"), ("style", "brick.png"),
                      ("style2", "gravel.png")):
        image = Image.open(media / name).convert("RGB")
        image.thumbnail((64, 64))
        paths[key] = tmp_path / f"{key}.png"
        image.save(paths[key])
    return paths
