"""Fast models over HTTP: imports are checked and refused in words (damaged, oversized,
pickle), exports give back the same file, a model is its owner's until shared to the
library, painting with one refuses what cannot work, and "Train a fast model" refuses a
training it cannot run before anything is stored."""

from __future__ import annotations

import io
from typing import Callable

import torch
from fastapi.testclient import TestClient

from app.settings import Settings
from app.web.main import create_app
from tests.support.fast_models import model_file_bytes
from tests.support.images import png_bytes

from .conftest import image_files, stored_files, submit, wait_for


def _import(client: TestClient, data: bytes, name: str = "stripes.safetensors",
            title: str = "") -> object:
    return client.post("/api/models", files={"model": (name, data, "application/octet-stream")},
                       data={"title": title} if title else {})


def _stranger(client: TestClient) -> TestClient:
    other = TestClient(client.app)
    other.cookies.clear()
    return other


def test_an_imported_model_is_its_owners_and_exports_as_it_came(paused_client: TestClient) -> None:
    data = model_file_bytes(styles=2)
    response = _import(paused_client, data, title="Two stripes")
    assert response.status_code == 201, response.text
    model = response.json()
    assert model["title"] == "Two stripes" and model["is_owner"] and not model["shared"]
    assert [s["name"] for s in model["styles"]] == ["Stripes 1", "Stripes 2"]
    assert [m["id"] for m in paused_client.get("/api/models").json()] == [model["id"]]
    exported = paused_client.get(model["file"])
    assert exported.status_code == 200 and exported.content == data
    assert "Two%20stripes.safetensors" in exported.headers["content-disposition"]
    assert paused_client.get(model["page"]).status_code == 200

    stranger = _stranger(paused_client)
    assert stranger.get(f"/api/models/{model['id']}").status_code == 404
    assert stranger.get(model["file"]).status_code == 404
    assert stranger.patch(f"/api/models/{model['id']}", json={"shared": True}).status_code == 404
    shared = paused_client.patch(f"/api/models/{model['id']}", json={"shared": True}).json()
    assert shared["shared"]
    assert stranger.get(model["file"]).content == data           # now in the library
    assert stranger.patch(f"/api/models/{model['id']}", json={"title": "x"}).status_code == 403
    assert model["id"] in stranger.get("/styles").text
    assert paused_client.delete(f"/api/models/{model['id']}").status_code == 204
    assert paused_client.get("/api/models").json() == []
    assert not any(p.startswith("models/") for p in stored_files(paused_client))


def test_damaged_oversized_and_pickle_files_are_refused_with_a_reason(
        make_settings: Callable[..., Settings]) -> None:
    with TestClient(create_app(make_settings(run_worker=False, max_model_mb=0.5))) as client:
        data = model_file_bytes(styles=1)
        cut = _import(client, data[:-64])
        assert cut.status_code == 422 and "damaged" in cut.json()["detail"]
        big = _import(client, model_file_bytes(width=16, blocks=2, styles=1))
        assert big.status_code == 413 and "0.5 MB limit" in big.json()["detail"]
        buffer = io.BytesIO()
        torch.save({"weight": torch.zeros(2)}, buffer)
        pickle = _import(client, buffer.getvalue(), name="model.pth")
        assert pickle.status_code == 422 and "pickle" in pickle.json()["detail"]
        empty = _import(client, b"")
        assert empty.status_code == 422
        page = client.post("/models/import", files={"model": ("m.pt", buffer.getvalue(),
                                                              "application/octet-stream")})
        assert page.status_code == 422 and "never opens" in page.text
        assert client.get("/api/models").json() == []
        assert not any(p.startswith("models/") for p in stored_files(client))


def test_painting_with_a_model_refuses_what_cannot_work(paused_client: TestClient) -> None:
    model = _import(paused_client, model_file_bytes(styles=2)).json()
    with_styles = submit(paused_client, image_files(), model_id=model["id"])
    assert with_styles.status_code == 422 and "its own styles" in with_styles.json()["detail"]
    content = [("content", ("photo.png", png_bytes(), "image/png"))]
    no_such = submit(paused_client, content, model_id=model["id"], model_style="3")
    assert no_such.status_code == 422 and "1 to 2" in no_such.json()["detail"]
    stranger = _stranger(paused_client)
    assert submit(stranger, content, model_id=model["id"]).status_code == 404
    queued = submit(paused_client, content, model_id=model["id"], model_style="2")
    assert queued.status_code == 201, queued.text
    job = queued.json()
    assert job["options"]["style_weights"] == [0.0, 1.0] and job["engine"] != "microast"
    page = paused_client.get(f"/?model={model['id']}&model_style=2").text
    assert 'id="model-card"' in page and '<option value="2" selected>' in page
    # the price the page shows is the model's one pass, whatever quality the form shows
    cost = paused_client.post("/api/jobs/cost", data={"preset": "balanced",
                                                      "model_id": model["id"]}).json()
    assert cost["engine"] == job["engine"] and cost["units"] == 1, cost


def test_a_picture_painted_with_a_model_survives_the_models_deletion(client: TestClient) -> None:
    model = _import(client, model_file_bytes(styles=1)).json()
    content = [("content", ("photo.png", png_bytes((80, 60)), "image/png"))]
    job = submit(client, content, model_id=model["id"], size="64").json()
    assert client.delete(f"/api/models/{model['id']}").status_code == 204
    done = wait_for(client, job["id"])
    assert done["state"] == "succeeded", done["error"]       # it painted with its own copy
    retried = client.post(f"/api/jobs/{job['id']}/retry")
    assert retried.status_code == 201
    assert wait_for(client, retried.json()["id"])["state"] == "succeeded"


def test_a_training_that_cannot_run_is_refused_before_anything_is_kept(
        paused_client: TestClient) -> None:
    before = stored_files(paused_client)
    style = [("style", ("s.png", png_bytes(seed=3), "image/png"))]
    refusals = [
        ({}, [], "at least one style"),
        ({"steps": "999999"}, style, "training steps must be at most"),
        ({"width": "12"}, style, "network width must be one of"),
        ({"photos": "clip"}, style, "choose the clip"),
        ({"base_model": "nope"}, style, "no such fast model"),
    ]
    for data, files, words in refusals:
        response = paused_client.post("/api/train", data=data, files=files or None)
        assert response.status_code in (404, 422), (data, response.text)
        assert words in response.json()["detail"], (data, response.json())
    assert stored_files(paused_client) == before
    queued = paused_client.post("/api/train", data={"steps": "50", "train_size": "64"},
                                files=style)
    assert queued.status_code == 201, queued.text
    job = queued.json()
    assert job["kind"] == "train" and job["state"] == "queued"
    assert job["options"]["steps"] == 50 and job["options"]["style_titles"] == ["Style 1"]


def test_a_training_spends_its_steps_of_the_allowance_and_counts_in_the_line(
        make_settings: Callable[..., Settings]) -> None:
    """A training costs its steps (each a painterly iteration: 4 crops of 256 px is one
    unit, 512 px crops four): over the daily allowance it is refused with a reason, within
    it the units are spent with the job; alone in its person's line it is taken however
    long, behind one more it waits its turn by the per-person cap."""
    token = "fast-models-admin-token-for-tests"
    settings = make_settings(run_worker=False, admin_token=token,
                             max_queued_minutes_per_person=31)
    style = [("style", ("s.png", png_bytes(seed=3), "image/png"))]
    with TestClient(create_app(settings)) as client:
        assert client.put("/api/admin/allowances", json={"anonymous": 2000},
                          headers={"Authorization": f"Bearer {token}"}).status_code == 204
        refused = client.post("/api/train", data={"steps": "600", "train_size": "512"},
                              files=style)
        assert refused.status_code == 429, refused.text
        assert "costs 2,400 work units" in refused.json()["detail"]
        long = client.post("/api/train", data={"steps": "1800"}, files=style)
        assert long.status_code == 201, long.text          # 30 min at 1 s a step: taken
        assert client.get("/api/me/allowance").json()["left"] == 200
        full = client.post("/api/train", data={"steps": "100"}, files=style)
        assert full.status_code == 429 and "of work waiting here" in full.json()["detail"]
        cheap = client.post("/api/train", data={"steps": "60", "train_size": "128"},
                            files=style)
        assert cheap.status_code == 201, cheap.text   # 15 units, 15 s: room in line
        assert client.get("/api/me/allowance").json()["left"] == 185
