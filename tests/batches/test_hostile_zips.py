"""The hostile ZIP corpus through ``POST /api/batches``: each is refused or bounded with a
4xx and a reason, and leaves nothing behind (no job, no batch, no file in the media folder,
temporary or not, and nothing written where a member's name points)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import text

from app.settings import Settings
from app.web.main import create_app
from tests.batches.conftest import FORM, STYLE, zip_of
from tests.batches.hostile_zips import CORPUS, mixed
from tests.support.images import png_bytes
from tests.web.conftest import job_count


def noise_png(side: int, seed: int) -> bytes:
    """A PNG of random pixels (it does not compress)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def everything_in(folder: Path) -> set[str]:
    """Every file under ``folder``, temporary ones included."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def batch_count(client: TestClient) -> int:
    with client.app.state.session_factory() as session:
        return session.execute(text("SELECT count(*) FROM batches")).scalar_one()


def send_zip(client: TestClient, archive: bytes):  # type: ignore[no-untyped-def]
    return client.post("/api/batches", data=FORM,
                       files=[("zip", ("photos.zip", archive, "application/zip")), *STYLE])


@pytest.mark.parametrize("name", list(CORPUS))
def test_hostile_zip_is_refused_and_leaves_nothing(paused_client: TestClient, tmp_path: Path,
                                                    name: str) -> None:
    build, status, words = CORPUS[name]
    media = Path(paused_client.app.state.store.root)
    before = everything_in(media)
    response = send_zip(paused_client, build())
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]
    assert everything_in(media) == before
    assert job_count(paused_client) == 0 and batch_count(paused_client) == 0
    assert not list(tmp_path.rglob("evil.png"))


def test_hostile_members_beside_good_photos_are_reported_and_skipped(
        paused_client: TestClient) -> None:
    response = send_zip(paused_client, mixed())
    assert response.status_code == 201, response.text
    body = response.json()
    assert len(body["jobs"]) == 1 and body["photos"][0]["name"] == "good.png"
    reasons = {r["name"]: r["reason"] for r in body["refused"]}
    assert set(reasons) == {"../evil.png", "nested.zip", "link.png"}
    assert "outside" in reasons["../evil.png"] and "link" in reasons["link.png"]


def test_declared_and_unpacked_totals_are_bounded(make_settings: Callable[..., Settings]
                                                  ) -> None:
    settings = make_settings(run_worker=False, max_zip_unpacked_mb=1, max_batch_photos=3)
    noise = [noise_png(400, seed) for seed in range(3)]     # ~470 KiB each, 1.4 MiB in all
    with TestClient(create_app(settings)) as client:
        big = send_zip(client, zip_of({f"{i}.png": n for i, n in enumerate(noise)}))
        assert big.status_code == 413 and "unpacks to" in big.json()["detail"]
        many = client.post("/api/batches", data=FORM, files=[
            *(("content", (f"{i}.png", png_bytes(seed=i), "image/png")) for i in range(4)),
            *STYLE])
        assert many.status_code == 413 and "at most 3" in many.json()["detail"]
        assert job_count(client) == 0 and batch_count(client) == 0


def test_a_batch_larger_than_its_limit_is_cut_off(make_settings: Callable[..., Settings]
                                                  ) -> None:
    settings = make_settings(run_worker=False, max_batch_upload_mb=1, max_upload_mb=1)
    with TestClient(create_app(settings)) as client:
        response = send_zip(client, bytes(12 * 2**20))
        assert response.status_code == 413
        assert "batch" in response.json()["detail"]
        assert job_count(client) == 0
