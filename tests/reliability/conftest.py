"""Fixtures for the reliability tests: the in-process app of tests/web, a real server in a
subprocess, and AdaIN checkpoints the weights registry accepts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterator

import pytest

from tests.reliability.server import ServerProcess
from tests.web.conftest import client, make_settings, paused_client  # noqa: F401 (fixtures)


@pytest.fixture
def server_factory(tmp_path: Path, shared_weights: Path) -> Iterator[type]:
    """Build :class:`ServerProcess` objects on ``tmp_path/data``; all killed afterwards."""
    started: list[ServerProcess] = []

    def build(**env: str) -> ServerProcess:
        server = ServerProcess(tmp_path / "data", shared_weights, **env)
        started.append(server)
        return server
    yield build
    for server in started:
        server.kill()
    if started:
        print(started[0].log())      # pytest shows it when the test failed


@pytest.fixture
def adain_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                  shared_weights: Path) -> Iterator[dict[str, Path]]:
    """Seeded AdaIN checkpoints in the weights cache folder, with the registry entries' pinned
    SHA-256 and size swapped for the generated files' (loading and verification still run)."""
    from app.engine import weights
    from app.settings import get_settings
    from tests.checkpoints import write_adain_checkpoints

    cache = tmp_path / "weights-cache"
    paths = write_adain_checkpoints(cache)
    for name, path in paths.items():
        entry = replace(weights.REGISTRY[name], sha256=weights.file_sha256(path),
                        size=path.stat().st_size)
        monkeypatch.setitem(weights.REGISTRY, name, entry)
    monkeypatch.setenv("DREAMGEN_WEIGHTS_CACHE_DIR", str(cache))
    get_settings.cache_clear()
    yield paths
    get_settings.cache_clear()
