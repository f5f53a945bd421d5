"""Masks, Enhance and Go deeper through the JSON API, on a real app (SQLite file, media
folder, worker, real MicroAST weights and the bundled pruned VGG-19)."""

from __future__ import annotations

import io
from typing import Any, Callable

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw
from sqlalchemy import select

from app.db.models import Job
from app.settings import Settings
from app.web.main import create_app
from tests.support.shared import shared_file
from tests.web.conftest import stored_files, submit, wait_for
from tests.web.test_me import another_browser

SIDE = 96


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def photo_bytes() -> bytes:
    photo = Image.open(shared_file("media/astronaut.png")).convert("RGB")
    return png(photo.resize((SIDE, SIDE), Image.Resampling.LANCZOS))


def left_half(size: tuple[int, int]) -> bytes:
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rectangle((0, 0, size[0] // 2 - 1, size[1]), fill=255)
    return png(mask)


def masked_files(mask: bytes, styles: int = 1) -> list[tuple[str, tuple]]:
    style = png(Image.open(shared_file("media/hubble_deep_field.jpg")).convert("RGB")
                .resize((128, 96)))
    return [("content", ("photo.png", photo_bytes(), "image/png")),
            *[("style", (f"style{i}.png", style, "image/png")) for i in range(styles)],
            ("mask", ("mask.png", mask, "image/png"))]


def picture(client: TestClient, job: dict[str, Any]) -> Image.Image:
    return Image.open(io.BytesIO(client.get(job["links"]["result"]).content)).convert("RGB")


def row(client: TestClient, job_id: str) -> Job:
    with client.app.state.session_factory() as session:
        return session.scalar(select(Job).where(Job.public_id == job_id))


def halves_moved(result: Image.Image) -> tuple[float, float]:
    """Mean grey-level change from the photo in the painted (left) and kept (right) half,
    leaving out the feathered band."""
    photo = Image.open(io.BytesIO(photo_bytes())).convert("RGB")
    diff = np.abs(np.asarray(result, np.float32) - np.asarray(photo, np.float32)).mean(axis=2)
    return float(diff[:, :SIDE // 2 - 8].mean()), float(diff[:, SIDE // 2 + 8:].mean())


def test_a_masked_job_styles_only_the_painted_part(client: TestClient) -> None:
    answer = submit(client, masked_files(left_half((300, 300))), size=str(SIDE))
    assert answer.status_code == 201, answer.text
    job = wait_for(client, answer.json()["id"])
    assert job["state"] == "succeeded", job["error"]
    assert job["options"]["mask"]["rest"] == "the photo"
    painted, kept = halves_moved(picture(client, job))
    assert kept <= 3.0 and painted >= 12.0, (painted, kept)
    mask_path = row(client, job["id"]).mask_path
    assert mask_path and mask_path in stored_files(client)
    page = client.get(f"/jobs/{job['id']}").text
    assert "brushed mask" in page


def test_a_blank_mask_is_no_mask(client: TestClient) -> None:
    for blank in (Image.new("L", (40, 40), 0), Image.new("L", (40, 40), 255)):
        job = wait_for(client, submit(client, masked_files(png(blank)),
                                      size=str(SIDE)).json()["id"])
        assert "mask" not in job["options"] and row(client, job["id"]).mask_path is None


def test_bad_masks_are_refused_and_leave_nothing(client: TestClient) -> None:
    before = stored_files(client)
    junk = submit(client, masked_files(b"this is not a picture"), size=str(SIDE))
    assert junk.status_code == 415 and "the mask" in junk.json()["detail"]
    three = submit(client, masked_files(left_half((40, 40)), styles=3), size=str(SIDE))
    assert three.status_code == 422 and "one style for the painted part" in \
        three.json()["detail"]
    assert stored_files(client) == before


def test_a_queued_mask_survives_a_restart(make_settings: Callable[..., Settings]) -> None:
    with TestClient(create_app(make_settings(run_worker=False))) as paused:
        queued = submit(paused, masked_files(left_half((50, 50))), size=str(SIDE)).json()
        cookies = dict(paused.cookies)
    with TestClient(create_app(make_settings()), cookies=cookies) as client:
        job = wait_for(client, queued["id"])
        assert job["state"] == "succeeded", job["error"]
        painted, kept = halves_moved(picture(client, job))
        assert kept <= 3.0 and painted >= 12.0


def test_enhance_makes_a_2x_version_for_the_owner_only(client: TestClient,
                                                       make_settings) -> None:
    first = wait_for(client, submit(client, size=str(SIDE)).json()["id"])
    other = another_browser(client)
    assert other.post(f"/api/jobs/{first['id']}/enhance").status_code == 403
    answer = client.post(f"/api/jobs/{first['id']}/enhance")
    assert answer.status_code == 201, answer.text
    enhanced = wait_for(client, answer.json()["id"])
    assert enhanced["state"] == "succeeded", enhanced["error"]
    assert (enhanced["width"], enhanced["height"]) == (2 * first["width"],
                                                       2 * first["height"])
    assert enhanced["options"]["derived"] == {"from": first["id"], "as": "enhance",
                                              "side": max(first["width"], first["height"])}
    assert row(client, enhanced["id"]).parent_id == row(client, first["id"]).id
    page = client.get(f"/jobs/{first['id']}").text
    assert f"/jobs/{enhanced['id']}" in page            # the versions sit together
    deeper = client.post(f"/api/jobs/{first['id']}/deeper")
    assert deeper.status_code == 409 and "Deep Dream" in deeper.json()["detail"]


def test_enhance_refusals_say_why(make_settings: Callable[..., Settings]) -> None:
    with TestClient(create_app(make_settings(max_enhance_side=SIDE))) as client:
        done = wait_for(client, submit(client, size=str(SIDE)).json()["id"])
        at_limit = client.post(f"/api/jobs/{done['id']}/enhance")
        assert at_limit.status_code == 409 and "limit" in at_limit.json()["detail"]
    with TestClient(create_app(make_settings(run_worker=False))) as paused:
        queued = submit(paused, size=str(SIDE)).json()
        waiting = paused.post(f"/api/jobs/{queued['id']}/enhance")
        assert waiting.status_code == 409 and "still queued" in waiting.json()["detail"]
        assert paused.post("/api/jobs/nosuchjob/enhance").status_code == 404
        assert paused.post(f"/api/jobs/{queued['id']}/cancel").status_code == 200
        cancelled = paused.post(f"/api/jobs/{queued['id']}/enhance")
        assert cancelled.status_code == 409 and "was cancelled" in cancelled.json()["detail"]
        clip = shared_file("media/pan_24fps_2s.mp4").read_bytes()
        video = submit(paused, [("content", ("clip.mp4", clip, "video/mp4")),
                                ("style", ("s.png", photo_bytes(), "image/png"))],
                       size=str(SIDE)).json()
        refused = paused.post(f"/api/jobs/{video['id']}/enhance")
        assert refused.status_code == 409 and "clip" in refused.json()["detail"]
        masked_clip = submit(paused, [("content", ("clip.mp4", clip, "video/mp4")),
                                      ("style", ("s.png", photo_bytes(), "image/png")),
                                      ("mask", ("m.png", left_half((40, 40)), "image/png"))],
                             size=str(SIDE))
        assert masked_clip.status_code == 422 and "pictures only" in \
            masked_clip.json()["detail"]


def test_go_deeper_dreams_again_on_the_result(client: TestClient) -> None:
    files = [("content", ("photo.png", photo_bytes(), "image/png"))]
    answer = client.post("/api/jobs", files=files, data={
        "mode": "dream", "size": "64", "octaves": "1", "dream_iterations": "3"})
    assert answer.status_code == 201, answer.text
    first = wait_for(client, answer.json()["id"])
    assert first["state"] == "succeeded", first["error"]
    deeper = client.post(f"/api/jobs/{first['id']}/deeper")
    assert deeper.status_code == 201, deeper.text
    second = wait_for(client, deeper.json()["id"])
    assert second["state"] == "succeeded" and second["options"]["derived"]["as"] == "deeper"
    base = np.asarray(picture(client, first), np.float32)
    again = np.asarray(picture(client, second), np.float32)
    assert again.shape == base.shape and np.abs(again - base).mean() > 1.0
    # it started from the first dream, not the photo
    with client.app.state.session_factory() as session:
        parent = session.scalar(select(Job).where(Job.public_id == first["id"]))
        child = session.scalar(select(Job).where(Job.public_id == second["id"]))
        store = client.app.state.store
        assert store.path(child.content_path).read_bytes() == \
            store.path(parent.result_path).read_bytes()
