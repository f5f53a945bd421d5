from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from app.engine.weights.store import WeightStore
from app.settings import get_settings
from tests.weights.support import FileServer, isolate_weights, running_server


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty weights cache under tmp_path, no weights_dir, online, no mirror (for the
    store and for the CLI, which reads the environment)."""
    folder = tmp_path / "cache"
    isolate_weights(monkeypatch, folder)
    yield folder
    get_settings.cache_clear()


@pytest.fixture
def store(cache: Path) -> WeightStore:
    """A store searching only ``cache`` (the bundled weights left out, so what is found is
    what the test put there)."""
    return WeightStore(cache_dir=cache, use_bundled=False)


@pytest.fixture
def server() -> Iterator[FileServer]:
    with running_server() as running:
        yield running
