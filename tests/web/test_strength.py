"""The instant strength preview through the web app: a finished Fast picture keeps its state,
its owner gets previews at any strength (rendered in a child process) and can save one as a
new result with files of its own; nobody else can, and the state is never served."""

from __future__ import annotations

import io

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from app.db.models import Job
from tests.web.conftest import submit, wait_for
from tests.web.test_me import another_browser


def picture(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def test_previews_and_saved_versions(client: TestClient) -> None:
    job = wait_for(client, submit(client, alpha="0.8", size="128").json()["id"])
    assert job["state"] == "succeeded"
    preview_link = job["links"]["strength"]
    assert preview_link == f"/api/jobs/{job['id']}/strength-preview"
    with client.app.state.session_factory() as session:
        state_path = session.scalar(select(Job.strength_path).where(Job.public_id == job["id"]))
    assert state_path and state_path.endswith(".pt")
    assert client.get(f"/media/{state_path}").status_code == 404      # never served

    result = picture(client.get(job["links"]["result"]).content)
    same = client.get(f"{preview_link}?alpha=0.8")
    assert same.status_code == 200 and same.headers["content-type"] == "image/jpeg"
    same_image = picture(same.content)
    assert same_image.size == result.size
    assert np.abs(np.asarray(same_image, float) - np.asarray(result, float)).mean() < 4  # JPEG
    weaker = picture(client.get(f"{preview_link}?alpha=0.1").content)
    assert np.abs(np.asarray(weaker, float) - np.asarray(result, float)).mean() > 4

    other = another_browser(client)
    assert other.get(f"/api/jobs/{job['id']}").json()["links"]["strength"] is None
    assert other.get(f"{preview_link}?alpha=0.5").status_code == 403
    assert client.get(f"{preview_link}?alpha=1.5").status_code == 422

    saved = client.post(f"/api/jobs/{job['id']}/versions", json={"alpha": 0.3})
    assert saved.status_code == 201, saved.text
    version = saved.json()
    assert version["state"] == "succeeded" and version["options"]["alpha"] == 0.3
    assert version["links"]["strength"] and version["title"] == job["title"]
    assert version["links"]["result"] != job["links"]["result"]
    assert client.delete(f"/api/jobs/{job['id']}").status_code == 204
    assert client.get(version["links"]["result"]).status_code == 200   # files of its own
    assert client.get(version["links"]["content"]).status_code == 200
    assert client.get(f"{version['links']['strength']}?alpha=0.6").status_code == 200
    assert other.post(f"/api/jobs/{version['id']}/versions", json={"alpha": 0.5}).status_code \
        == 403


def test_the_form_saves_a_version_without_javascript(client: TestClient) -> None:
    job = wait_for(client, submit(client, size="96").json()["id"])
    page = client.get(f"/jobs/{job['id']}").text
    assert 'id="strength-form"' in page and 'name="alpha"' in page
    saved = client.post(f"/jobs/{job['id']}/versions", data={"alpha": "0.5"},
                        follow_redirects=False)
    assert saved.status_code == 303
    assert "Saved as a new result" in client.get(saved.headers["location"]).text


def test_slow_engines_keep_no_state(paused_client: TestClient) -> None:
    job = submit(paused_client, engine="gatys-lite").json()
    assert job["links"]["strength"] is None
    assert paused_client.get(f"/api/jobs/{job['id']}/strength-preview").status_code == 404
