"""A real app per test: SQLite file and media in tmp_path, real MicroAST weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db.models import Job
from app.settings import Settings
from app.web.main import create_app
from tests.support.database import copy_template
from tests.support.images import png_bytes
from tests.support.waiting import wait_until

FINISHED = ("succeeded", "failed", "cancelled")


@pytest.fixture
def make_settings(tmp_path: Path, shared_weights: Path,
                  database_template: Path) -> Callable[..., Settings]:
    """Settings for an app of this test: its data folder starts with a copy of the migrated
    template database (unless the test names another database)."""
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = dict(data_dir=tmp_path / "data", weights_dir=shared_weights,
                                      weights_cache_dir=tmp_path / "cache", device="cpu",
                                      workers=1, min_free_disk_mb=1)
        values.update(overrides)
        settings = Settings(**values)
        database = Path(settings.data_dir) / "dreamgen.db"
        if not overrides.get("database_url") and not database.exists():
            copy_template(database_template, Path(settings.data_dir))
        return settings
    return build


@pytest.fixture
def client(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings())) as test_client:
        yield test_client


@pytest.fixture
def paused_client(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    """No worker thread: jobs stay queued."""
    with TestClient(create_app(make_settings(run_worker=False))) as test_client:
        yield test_client


def image_files(content: bytes | None = None, *styles: bytes) -> list[tuple[str, tuple]]:
    files = [("content", ("photo.png", png_bytes() if content is None else content, "image/png"))]
    for i, style in enumerate(styles or (png_bytes(seed=3),)):
        files.append(("style", (f"style{i}.png", style, "image/png")))
    return files


def submit(client: TestClient, files: list | None = None, **form: Any) -> Any:
    data = {"engine": "microast", "size": "96", **{k: str(v) for k, v in form.items()}}
    return client.post("/api/jobs", files=files or image_files(), data=data)


def wait_for(client: TestClient, job_id: str, states: tuple[str, ...] = FINISHED,
             timeout_s: float = 120.0) -> dict[str, Any]:
    """Poll the API until the job is in one of ``states`` (fails at the deadline)."""
    def reached() -> dict[str, Any] | None:
        job = client.get(f"/api/jobs/{job_id}").json()
        return job if job["state"] in states else None

    return wait_until(f"job {job_id} to reach {states}", reached, timeout_s)


def job_count(client: TestClient) -> int:
    with client.app.state.session_factory() as session:
        return session.scalar(select(func.count()).select_from(Job))


def stored_files(client: TestClient) -> set[str]:
    return client.app.state.store.files()
