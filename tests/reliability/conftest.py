"""Fixtures for the reliability tests: the in-process app of tests/web, a real server in a
subprocess, and AdaIN checkpoints the weights registry accepts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import pytest

from tests.support.server import ServerProcess

if TYPE_CHECKING:
    from app.engine.weights.store import WeightStore
    from app.settings import Settings
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
def adain_weights(tmp_path: Path) -> dict[str, Path]:
    """Seeded AdaIN checkpoints in a weights cache folder (see :func:`trusting`)."""
    from tests.support.checkpoints import write_adain_checkpoints

    return write_adain_checkpoints(tmp_path / "weights-cache")


def trusting(settings: "Settings", checkpoints: dict[str, Path]) -> "WeightStore":
    """The settings' weights store with the pinned SHA-256 and size of ``checkpoints``'
    registry entries swapped for the generated files' (lookup, verification and loading
    still run, in the engine processes too: the pins travel with the store)."""
    from app.engine.weights import store as weights

    pins = tuple(replace(f, sha256=weights.file_sha256(checkpoints[f.name]),
                         size=checkpoints[f.name].stat().st_size)
                 if f.name in checkpoints else f for f in weights.WEIGHT_FILES)
    return replace(weights.WeightStore.from_settings(settings), pins=pins)
