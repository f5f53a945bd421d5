"""Shared fixtures: the shared weights folder.

Every process of the test session (this one, the fork server, the servers and workers the
tests start) registers the deliberately broken engines of ``tests/support/fault_engines.py``
through the product's own plugin setting, before anything reads the engine registry."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("DREAMGEN_ENGINE_PLUGINS", "tests.support.fault_engines:SPECS")
os.environ["PYTHONPATH"] = os.pathsep.join(     # the plugin imports in every subprocess too
    p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)

import pytest  # noqa: E402  (after the environment above)

from tests.support.database import migrated_template  # noqa: E402
from tests.support.shared import shared_dir  # noqa: E402


@pytest.fixture
def shared_weights(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the process-wide settings at ``../shared/weights`` (real MicroAST weights)."""
    from app.settings import get_settings

    folder = shared_dir("weights")
    monkeypatch.setenv("DREAMGEN_WEIGHTS_DIR", str(folder))
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database at the newest migration, made once for the session."""
    return migrated_template(tmp_path_factory.mktemp("template"))
