"""A real clip through the web app: validated at upload, stylised, poster and thumbnail."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import png_bytes, shared_dir
from tests.web.conftest import job_count, submit, wait_for


def test_a_video_job_makes_an_mp4_with_a_poster(client: TestClient) -> None:
    clip = (shared_dir("media") / "pan_24fps_2s.mp4").read_bytes()
    files = [("content", ("clip.mov", clip, "video/quicktime")),
             ("style", ("s.png", png_bytes(seed=2), "image/png"))]
    job = submit(client, files, size=64)
    assert job.status_code == 201, job.text
    assert job.json()["kind"] == "video" and job.json()["links"]["content"] is None
    done = wait_for(client, job.json()["id"], timeout_s=300)
    assert done["state"] == "succeeded", done["error"]
    video = client.get(done["links"]["result"])
    assert video.headers["content-type"] == "video/mp4" and video.content[4:8] == b"ftyp"
    assert client.get(done["links"]["poster"]).headers["content-type"] == "image/jpeg"
    page = client.get(f"/jobs/{done['id']}").text
    assert re.search(r'<video[^>]+poster="/media/thumbs/', page)
    share = client.get(done["links"]["share"]).text
    assert 'property="og:video" content="http://testserver/media/results/' in share
    assert 'property="og:type" content="video.other"' in share


def test_a_damaged_video_is_refused_before_queueing(paused_client: TestClient) -> None:
    clip = (shared_dir("media") / "pan_24fps_2s.mp4").read_bytes()
    files = [("content", ("clip.mp4", clip[: len(clip) // 3], "video/mp4")),
             ("style", ("s.png", png_bytes(), "image/png"))]
    response = submit(paused_client, files)
    assert 400 <= response.status_code < 500 and "video" in response.json()["detail"]
    assert job_count(paused_client) == 0 and paused_client.app.state.store.files() == set()


def test_a_clip_over_the_duration_limit_names_the_limit(make_settings) -> None:  # type: ignore[no-untyped-def]
    from app.web.main import create_app

    clip = (shared_dir("media") / "pan_24fps_2s.mp4").read_bytes()
    with TestClient(create_app(make_settings(max_video_seconds=1.0, run_worker=False))) as client:
        response = submit(client, [("content", ("c.mp4", clip, "video/mp4")),
                                   ("style", ("s.png", png_bytes(), "image/png"))])
        assert response.status_code == 422 and "limit" in response.json()["detail"]
        assert job_count(client) == 0
