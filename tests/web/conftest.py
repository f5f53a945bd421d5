"""A real app per test: SQLite file and media in tmp_path, real MicroAST weights."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db.models import Job
from app.settings import Settings
from app.web.main import create_app
from tests.conftest import png_bytes

FINISHED = ("succeeded", "failed", "cancelled")


@pytest.fixture
def make_settings(tmp_path: Path, shared_weights: Path) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = dict(data_dir=tmp_path / "data", weights_dir=shared_weights,
                                      weights_cache_dir=tmp_path / "cache", device="cpu",
                                      workers=1, min_free_disk_mb=1)
        values.update(overrides)
        return Settings(**values)
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
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] in states:
            return job
        time.sleep(0.05)
    pytest.fail(f"job {job_id} did not reach {states} in {timeout_s} s; last: {job}")


def job_count(client: TestClient) -> int:
    with client.app.state.session_factory() as session:
        return session.scalar(select(func.count()).select_from(Job))


def stored_files(client: TestClient) -> set[str]:
    return client.app.state.store.files()
