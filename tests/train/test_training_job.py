"""A training job in the studio's own queue, workers and engine processes, from the first
step to pictures and clips painted with its model: the losses fall, a kill of the engine
process mid-training costs at most the steps since the last committed checkpoint (the
resumed run starts there), and the finished model paints a picture and a short clip through
the same jobs everyone uses (with the clips' flicker stabilisation)."""

from __future__ import annotations

import io
import os
import signal
from pathlib import Path
from typing import Any, Callable

import av
import pytest
from fastapi.testclient import TestClient
from safetensors import safe_open

from app.db.models import Job
from app.engine.methods.trained.model_file import parse_model
from app.settings import Settings
from app.web.main import create_app
from tests.support.fast_models import stripes
from tests.support.images import png_bytes
from tests.support.waiting import wait_until
from tests.support.clips import pan_frames, write_clip
from tests.web.conftest import make_settings, wait_for  # noqa: F401 (fixtures)

CHECKPOINT_EVERY = 8
STEPS = 40


def _row(client: TestClient, job_id: str) -> Job:
    with client.app.state.session_factory() as session:
        return session.query(Job).filter_by(public_id=job_id).one()


def _checkpoint_step(path: Path) -> int:
    import json

    with safe_open(str(path), framework="pt") as opened:
        return int(json.loads(opened.metadata()["dreamgen-checkpoint"])["step"])


def _style_png() -> bytes:
    buffer = io.BytesIO()
    stripes(96).save(buffer, "PNG")
    return buffer.getvalue()


def _train(client: TestClient) -> dict[str, Any]:
    response = client.post("/api/train", files=[("style", ("stripes.png", _style_png(),
                                                          "image/png"))],
                           data={"steps": str(STEPS), "train_size": "64", "width": "8",
                                 "title": "Stripes"})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.slow
def test_a_killed_training_resumes_at_its_checkpoint_and_its_model_paints(
        make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    settings = make_settings(train_checkpoint_steps=CHECKPOINT_EVERY,
                             train_preview_steps=CHECKPOINT_EVERY, max_attempts=3)
    with TestClient(create_app(settings)) as client:
        store = client.app.state.store
        job = _train(client)
        row = wait_until("a committed checkpoint", lambda: (lambda r: r if r.checkpoint_path
                                                            else None)(_row(client, job["id"])),
                         300)
        killed_at = _checkpoint_step(store.path(row.checkpoint_path))
        running = client.get(f"/api/jobs/{job['id']}").json()
        assert running["state"] == "running" and "style" in running["message"]
        assert running["links"]["preview"], "a preview of the fixed photo while it trains"
        page = client.get(f"/jobs/{job['id']}").text
        assert "Training…" in page and "step" in page
        worker = client.app.state.workers.workers[0]
        os.kill(worker.engine_process.pid, signal.SIGKILL)

        done = wait_for(client, job["id"], timeout_s=600)
        assert done["state"] == "succeeded", done["error"]
        assert _row(client, job["id"]).attempts == 2
        assert job["id"] not in client.get("/api/gallery").text    # a model is no picture
        assert _row(client, job["id"]).checkpoint_path is None    # a finished job keeps none
        assert not any(p.startswith("checkpoints/") for p in store.files())
        models = client.get("/api/models").json()
        assert [m["title"] for m in models] == ["Stripes"] and done["links"]["model"]
        data = client.get(models[0]["file"]).content
        header, _ = parse_model(data, 2**26)
        resumed = header.training["resumed_at_step"]
        assert killed_at <= resumed < STEPS and resumed % CHECKPOINT_EVERY == 0, \
            (killed_at, resumed)
        first, last = header.training["first_losses"], header.training["last_losses"]
        assert last["style"] < first["style"], (first, last)

        picture = client.post("/api/jobs", data={"model_id": models[0]["id"], "size": "96"},
                              files=[("content", ("photo.png", png_bytes((120, 80)),
                                                  "image/png"))]).json()
        painted = wait_for(client, picture["id"])
        assert painted["state"] == "succeeded", painted["error"]
        assert painted["links"]["strength"] and (painted["width"], painted["height"]) == (96, 64)
        result = client.get(painted["links"]["result"]).content
        assert result[:8] == b"\x89PNG\r\n\x1a\n" and len(result) > 1000

        clip = write_clip(tmp_path / "pan.mp4", pan_frames("chelsea.png", (96, 64), 12))
        video = client.post("/api/jobs", data={"model_id": models[0]["id"], "size": "96"},
                            files=[("content", ("pan.mp4", clip.read_bytes(),
                                                "video/mp4"))]).json()
        made = wait_for(client, video["id"], timeout_s=300)
        assert made["state"] == "succeeded", made["error"]
        with av.open(str(store.path(_row(client, video["id"]).result_path))) as container:
            frames = list(container.decode(video=0))
        assert len(frames) == 12 and (frames[0].width, frames[0].height) == (96, 64)
