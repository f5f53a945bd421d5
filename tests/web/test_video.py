"""A real clip through the web app: validated at upload, stylised, poster and thumbnail."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.support.images import png_bytes
from tests.support.shared import shared_dir
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


def test_only_the_trimmed_stretch_is_made_with_its_sound(client: TestClient) -> None:
    import io

    import av

    clip = (shared_dir("media") / "pan_24fps_2s.mp4").read_bytes()
    files = [("content", ("clip.mp4", clip, "video/mp4")),
             ("style", ("s.png", png_bytes(seed=2), "image/png"))]
    job = submit(client, files, size=64, trim_start="0.5", trim_end="1.5")
    assert job.status_code == 201, job.text
    assert (job.json()["options"]["trim_start"], job.json()["options"]["trim_end"]) == (0.5, 1.5)
    done = wait_for(client, job.json()["id"], timeout_s=300)
    assert done["state"] == "succeeded", done["error"]
    with av.open(io.BytesIO(client.get(done["links"]["result"]).content)) as result:
        frames = sum(1 for _ in result.decode(video=0))
        audio = result.streams.audio[0]
        assert abs(float(audio.duration * audio.time_base) - 1.0) < 0.06
    assert frames == 24


def test_a_stretch_outside_the_clip_is_refused(paused_client: TestClient) -> None:
    clip = (shared_dir("media") / "pan_24fps_2s.mp4").read_bytes()
    files = [("content", ("clip.mp4", clip, "video/mp4")),
             ("style", ("s.png", png_bytes(), "image/png"))]
    late = submit(paused_client, files, trim_start="5")
    assert late.status_code == 422 and "after its end" in late.json()["detail"]
    backwards = submit(paused_client, files, trim_start="1.5", trim_end="0.5")
    assert backwards.status_code == 422
    assert "the end of the stretch must come after its start" in backwards.json()["detail"]
    assert job_count(paused_client) == 0 and paused_client.app.state.store.files() == set()


def test_a_dream_needs_no_style_image_and_takes_one_guide(client: TestClient) -> None:
    photo = [("content", ("photo.png", png_bytes((96, 64)), "image/png"))]
    job = submit(client, photo, engine="deepdream", size=64, octaves="1",
                 dream_iterations="2", depth="textures")
    assert job.status_code == 201, job.text
    assert job.json()["engine"] == "deepdream" and job.json()["options"]["depth"] == "textures"
    done = wait_for(client, job.json()["id"], timeout_s=300)
    assert done["state"] == "succeeded", done["error"]
    by_mode = submit(client, photo, mode="dream", size=64, octaves="1", dream_iterations="1")
    assert by_mode.status_code == 201 and by_mode.json()["engine"] == "deepdream"
    guides = photo + [("style", (f"g{i}.png", png_bytes(seed=i), "image/png")) for i in (1, 2)]
    refused = submit(client, guides, engine="deepdream")
    assert refused.status_code == 422 and "at most one guide image" in refused.json()["detail"]
    bad = submit(client, photo, engine="deepdream", depth="dreams")
    assert bad.status_code == 422 and "dream depth must be one of" in bad.json()["detail"]


@pytest.mark.slow   # several seconds on a 2-core CPU: not in the fast tier
def test_a_running_clip_offers_its_first_segments_to_play(make_settings) -> None:  # type: ignore[no-untyped-def]
    import io
    import time

    import av

    from app.web.main import create_app

    clip = (shared_dir("media") / "pan_24fps_2s.mp4").read_bytes()
    files = [("content", ("clip.mp4", clip, "video/mp4")),
             ("style", ("s.png", png_bytes(seed=2), "image/png"))]
    with TestClient(create_app(make_settings(video_segment_seconds=0.5))) as client:
        job = submit(client, files, size=256).json()
        seen, deadline = None, time.monotonic() + 240
        while time.monotonic() < deadline:
            state = client.get(f"/api/jobs/{job['id']}").json()
            if state["links"]["partial"] and seen is None:
                seen = client.get(state["links"]["partial"]).content
                assert state["links"]["preview"]          # the latest frame, as a picture
            if state["state"] in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.05)
        assert state["state"] == "succeeded", state["error"]
        assert seen is not None, "no partial result was offered while the clip ran"
        with av.open(io.BytesIO(seen)) as partial:
            frames = sum(1 for _ in partial.decode(video=0))
            assert partial.streams.audio                  # with its sound so far
        assert 12 <= frames < 48
        assert state["links"]["partial"] is None
        media = client.app.state.store.root
        assert list((media / "segments").rglob("*.mp4")) == []
