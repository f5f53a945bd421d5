"""The fair queue through the web app with a real worker: a long clip gives way at its next
segment boundary to someone else's picture, then finishes whole; the admin sees the line and
moves a job; one person's waiting work is capped with a plain refusal."""

from __future__ import annotations

from typing import Any, Callable

import av
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db.models import Job
from app.settings import Settings
from app.web.main import create_app
from tests.support.images import png_bytes
from tests.support.shared import shared_dir
from tests.support.waiting import wait_until
from tests.web.conftest import submit, wait_for
from tests.web.test_me import another_browser

TOKEN = "a-long-admin-token-for-the-queue"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def clip_files() -> list[tuple[str, Any]]:
    clip = (shared_dir("media") / "pan_24fps_2s.mp4").read_bytes()
    return [("content", ("clip.mp4", clip, "video/mp4")),
            ("style", ("s.png", png_bytes(seed=2), "image/png"))]


def row(client: TestClient, job_id: str) -> Job:
    with client.app.state.session_factory() as session:
        return session.scalar(select(Job).where(Job.public_id == job_id))


@pytest.mark.slow   # a real clip on a real worker: tens of seconds on a 2-core CPU
def test_a_long_clip_gives_way_at_a_segment_boundary_then_ends_whole(
        make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(video_segment_seconds=0.5, admin_token=TOKEN)
    with TestClient(create_app(settings)) as ann:
        clip = submit(ann, clip_files(), size=64).json()
        wait_until("Ann's clip to run", lambda: row(ann, clip["id"]).state == "running", 120)
        bo = another_browser(ann)
        picture = submit(bo, size=64).json()
        done = wait_for(bo, picture["id"], timeout_s=240)
        assert done["state"] == "succeeded", done["error"]
        whole = wait_for(ann, clip["id"], timeout_s=300)
        assert whole["state"] == "succeeded", whole["error"]
        clip_row, picture_row = row(ann, clip["id"]), row(ann, picture["id"])
        assert picture_row.started_at < clip_row.finished_at         # it did not wait it out
        assert clip_row.attempts == 1                # giving way spent no attempt
        with av.open(str(ann.app.state.store.path(clip_row.result_path))) as video:
            assert video.streams.video[0].frames == 48          # every frame, once
            assert video.streams.audio                            # and its sound


def test_the_admin_sees_everyones_line_and_moves_a_job(
        make_settings: Callable[..., Settings]) -> None:
    with TestClient(create_app(make_settings(run_worker=False, admin_token=TOKEN))) as ann:
        first, second = (submit(ann).json() for _ in range(2))
        bo = another_browser(ann)
        late = submit(bo).json()
        assert ann.get(f"/api/jobs/{second['id']}").json()["queue_position"] == 3
        assert bo.get(f"/api/jobs/{late['id']}").json()["queue_position"] == 2
        people = ann.get("/api/admin/queue", headers=BEARER).json()
        assert [len(p["jobs"]) for p in people] == [2, 1]
        assert all(p["person"].startswith("person ") and len(p["person"]) == 15 for p in people)
        assert [j["place"] for j in people[0]["jobs"]] == [1, 3]
        moved = ann.post(f"/api/admin/jobs/{second['id']}/priority", json={"priority": 3},
                         headers=BEARER)
        assert moved.status_code == 200 and moved.json()["priority"] == 3
        assert ann.get(f"/api/jobs/{second['id']}").json()["queue_position"] == 1
        assert ann.post(f"/api/admin/jobs/{first['id']}/priority", json={"priority": 99},
                        headers=BEARER).status_code == 422
        assert ann.get("/api/admin/queue").status_code == 403        # the admin's only
        page = ann.get("/admin", headers=BEARER).text
        assert 'id="queue-title"' in page and f'data-job="{late["id"]}"' in page


def test_one_persons_waiting_work_is_capped_with_a_reason(
        make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(run_worker=False, max_queued_minutes_per_person=0.001)
    with TestClient(create_app(settings)) as ann:
        assert submit(ann, size=256).status_code == 201
        refused = submit(ann, size=256)
        assert refused.status_code == 429, refused.text
        assert "of work waiting here" in refused.json()["detail"]
        assert int(refused.headers["retry-after"]) >= 60
        assert submit(another_browser(ann), size=256).status_code == 201   # others still can
        assert ann.app.state.store.files() and len(ann.app.state.store.files()) < 10
