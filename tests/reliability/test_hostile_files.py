"""The hostile-file corpus (tests/reliability/corpus.py) against the upload API and form:
every bad file gets a 4xx with its reason, queues nothing, leaves no file (temporary ones
included) in the media folder, and the server keeps serving; files we may accept are stored
as a fresh re-encode of the type their bytes say, with no appended payload and no GPS."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from app.db.models import Job
from tests.reliability.corpus import ACCEPTED, REFUSED, all_files_under, jpeg_with_gps
from tests.support.images import png_bytes
from tests.web.conftest import job_count, submit, wait_for

STYLE = ("style", ("style.png", png_bytes(seed=3), "image/png"))
CONTENT = ("content", ("photo.png", png_bytes(), "image/png"))


def files_for(field: str, filename: str, data: bytes) -> list[tuple[str, Any]]:
    upload = (field, (filename, data, "application/octet-stream"))
    return [upload, STYLE] if field == "content" else [CONTENT, upload]


def assert_nothing_kept(client: TestClient) -> None:
    assert job_count(client) == 0
    assert all_files_under(client.app.state.store.root) == set()


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_hostile_file_is_refused_with_its_reason(paused_client: TestClient, case: str) -> None:
    bad = REFUSED[case]
    data = bad.build()
    api = submit(paused_client, files_for(bad.field, bad.filename, data))
    assert api.status_code == bad.status, api.text
    assert bad.reason in api.json()["detail"]
    assert_nothing_kept(paused_client)

    page = paused_client.post("/create", files=files_for(bad.field, bad.filename, data),
                              data={"engine": "microast", "size": "64"})
    assert page.status_code == bad.status
    assert page.headers["content-type"].startswith("text/html") and "<form" in page.text
    assert bad.reason in page.text.replace("&#39;", "'")
    assert_nothing_kept(paused_client)

    follow_up = submit(paused_client)                # the server keeps serving
    assert follow_up.status_code == 201, follow_up.text


@pytest.mark.parametrize("case", sorted(ACCEPTED))
@pytest.mark.parametrize("field", ["content", "style"])
def test_misnamed_and_polyglot_images_are_stored_as_their_real_type(
        paused_client: TestClient, case: str, field: str) -> None:
    good = ACCEPTED[case]
    data = good.build()
    response = submit(paused_client, files_for(field, good.filename, data))
    assert response.status_code == 201, response.text
    links = response.json()["links"]
    link = links["content"] if field == "content" else links["styles"][0]
    with paused_client.app.state.session_factory() as session:     # stored as what it is
        row = session.scalar(select(Job).where(Job.public_id == response.json()["id"]))
        assert (row.content_path if field == "content" else row.style_paths[0]) \
            .endswith(good.suffix)
    served = paused_client.get(link)
    assert served.headers["content-type"] == good.served_type
    assert served.headers["x-content-type-options"] == "nosniff"
    assert b"PK\x03\x04" not in served.content and b"payload.html" not in served.content
    image = Image.open(io.BytesIO(served.content))
    assert image.format == good.served_type.split("/")[1].upper()
    assert image.size == Image.open(io.BytesIO(data)).size


def assert_no_gps(data: bytes, where: str) -> None:
    image = Image.open(io.BytesIO(data))
    assert not image.getexif(), f"{where} carries EXIF"
    assert not image.getexif().get_ifd(0x8825), f"{where} carries GPS"
    assert b"SpyCam" not in data and b"Exif" not in data, f"{where} carries EXIF bytes"


def test_gps_never_leaves_the_server(client: TestClient) -> None:
    """Content and style with EXIF GPS: the served content, style, result and thumbnail
    (and the share page's image) carry none of it."""
    photo = jpeg_with_gps()
    assert b"SpyCam" in photo and Image.open(io.BytesIO(photo)).getexif().get_ifd(0x8825)
    response = submit(client, [("content", ("gps.jpg", photo, "image/jpeg")),
                               ("style", ("gps-style.jpg", photo, "image/jpeg"))], size=64)
    assert response.status_code == 201, response.text
    done = wait_for(client, response.json()["id"])
    assert done["state"] == "succeeded", done["error"]
    links = done["links"]
    for where in ("content", "result", "thumb"):
        assert_no_gps(client.get(links[where]).content, where)
    assert_no_gps(client.get(links["styles"][0]).content, "style")
    stored = client.app.state.store.root
    for path in stored.rglob("*"):
        if path.is_file():
            assert b"SpyCam" not in path.read_bytes(), f"{path} keeps the camera's EXIF"


def test_media_is_never_served_as_html_or_svg(paused_client: TestClient) -> None:
    """Even a file that somehow sits in the media folder as a job's content goes out as a
    download; one that no job names is not served at all."""
    store = paused_client.app.state.store
    job = submit(paused_client).json()
    for name, data in (("evil.html", b"<script>alert(1)</script>"),
                       ("evil.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>")):
        (store.root / "uploads").mkdir(exist_ok=True)
        (store.root / "uploads" / name).write_bytes(data)
        assert paused_client.get(f"/media/uploads/{name}").status_code == 404   # nobody's
        with paused_client.app.state.session_factory() as session:
            row = session.scalar(select(Job).where(Job.public_id == job["id"]))
            row.content_path = f"uploads/{name}"
            session.commit()
        served = paused_client.get(f"/media/uploads/{name}")
        assert served.status_code == 200
        assert served.headers["content-type"] == "application/octet-stream"
        assert served.headers["x-content-type-options"] == "nosniff"
        assert served.headers["content-security-policy"] == "default-src 'none'"
