from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from app.settings import get_settings
from tests.weights.support import FileServer, isolate_weights, running_server


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty weights cache under tmp_path, no weights_dir, online, no mirror."""
    folder = tmp_path / "cache"
    isolate_weights(monkeypatch, folder)
    yield folder
    get_settings.cache_clear()


@pytest.fixture
def server() -> Iterator[FileServer]:
    with running_server() as running:
        yield running
