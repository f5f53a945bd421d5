"""The whole journey through HTTP: create, progress, result, gallery, share card, delete."""

from __future__ import annotations

import io
import json
import re

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.db.models import utcnow
from tests.support.images import png_bytes
from tests.web.conftest import image_files, job_count, submit, wait_for


def meta(html: str, key: str) -> str:
    match = re.search(rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)"', html)
    assert match, f"no {key} meta tag"
    return match.group(1)


def test_create_progress_result_gallery_share_delete(client: TestClient) -> None:
    created = submit(client, alpha=0.8)
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["state"] in ("queued", "running") and job["is_owner"]
    assert job["options"]["alpha"] == 0.8 and job["engine"] == "microast"

    done = wait_for(client, job["id"])
    assert done["state"] == "succeeded", done["error"]
    assert done["progress"] == 1.0 and (done["width"], done["height"]) == (96, 64)

    result = client.get(done["links"]["result"])
    assert result.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(result.content))
    assert image.size == (96, 64) and not image.getexif() and "exif" not in image.info
    thumb = client.get(done["links"]["thumb"])
    assert thumb.headers["content-type"] == "image/jpeg"

    page = client.get(f"/jobs/{job['id']}").text
    assert done["links"]["result"] in page and 'id="compare-range"' in page
    assert f'href="/?style_from={job["id"]}"' in page and "Delete this result" in page

    gallery = client.get("/api/gallery").json()
    assert [j["id"] for j in gallery["jobs"]] == [job["id"]]
    assert done["links"]["thumb"] in client.get("/gallery").text

    share = client.get(done["links"]["share"]).text
    assert meta(share, "og:image") == "http://testserver" + done["links"]["result"]
    assert (meta(share, "og:image:width"), meta(share, "og:image:height")) == ("96", "64")
    assert meta(share, "twitter:card") == "summary_large_image"
    assert meta(share, "og:type") == "website" and meta(share, "og:title")

    stranger = TestClient(client.app)     # no owner cookie: somebody else
    assert stranger.get(done["links"]["share"]).status_code == 200
    refused = stranger.delete(f"/api/jobs/{job['id']}")
    assert refused.status_code == 403 and "only the person" in refused.json()["detail"]
    assert stranger.post(f"/jobs/{job['id']}/delete").status_code == 403
    assert "Delete this result" not in stranger.get(f"/jobs/{job['id']}").text

    assert client.delete(f"/api/jobs/{job['id']}").status_code == 204
    assert client.get(f"/api/jobs/{job['id']}").status_code == 404
    assert client.get(done["links"]["result"]).status_code == 404
    assert client.get(done["links"]["share"]).status_code == 404
    assert job_count(client) == 0 and client.app.state.store.files() == set()


def test_server_sent_events_report_progress_then_done(client: TestClient) -> None:
    job = submit(client).json()
    events: list[tuple[str, dict]] = []
    with client.stream("GET", f"/api/jobs/{job['id']}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    assert events[0][0] == "progress" and events[-1][0] == "done"
    assert events[-1][1]["state"] == "succeeded"
    fractions = [data["progress"] for _, data in events]
    assert fractions == sorted(fractions)


def test_form_post_without_javascript_redirects_to_the_job_page(client: TestClient) -> None:
    response = client.post("/create", files=image_files(), follow_redirects=False,
                           data={"engine": "microast", "size": "64", "visibility": "unlisted"})
    assert response.status_code == 303
    job_id = response.headers["location"].rsplit("/", 1)[1]
    done = wait_for(client, job_id)
    assert done["state"] == "succeeded" and done["visibility"] == "unlisted"
    assert client.get("/api/gallery").json()["total"] == 0     # unlisted: link only
    assert client.get(done["links"]["share"]).status_code == 200
    assert client.get(f"/r/{job_id}").status_code == 200


def test_use_this_style_again_copies_the_earlier_style(client: TestClient) -> None:
    first = wait_for(client, submit(client).json()["id"])
    page = client.get(f"/?style_from={first['id']}").text
    assert first["links"]["styles"][0] in page and 'name="style_from"' in page
    again = client.post("/api/jobs", files=[("content", ("c.png", png_bytes(seed=5), "image/png"))],
                        data={"engine": "microast", "size": "64", "style_from": first["id"]})
    assert again.status_code == 201, again.text
    second = wait_for(client, again.json()["id"])
    assert second["state"] == "succeeded" and len(second["links"]["styles"]) == 1
    assert client.get(second["links"]["styles"][0]).content == \
        client.get(first["links"]["styles"][0]).content
    replaced = submit(client, image_files(None, png_bytes(seed=7)), style_from=first["id"])
    assert replaced.status_code == 201 and len(replaced.json()["links"]["styles"]) == 1
    assert client.get(replaced.json()["links"]["styles"][0]).content != \
        client.get(first["links"]["styles"][0]).content
    client.post(f"/jobs/{first['id']}/delete")          # in the trash: its files may go
    gone = client.post("/api/jobs", files=[("content", ("c.png", png_bytes(seed=5), "image/png"))],
                       data={"engine": "microast", "size": "64", "style_from": first["id"]})
    assert gone.status_code == 404 and "is gone" in gone.json()["detail"]


def test_gallery_pages_newest_first(paused_client: TestClient) -> None:
    from app.db.models import Job, JobState, utcnow

    with paused_client.app.state.session_factory() as session:
        for i in range(30):
            session.add(Job(owner_id="x", kind="video" if i == 29 else "image",
                            engine="microast", content_path="uploads/c.png",
                            state=JobState.SUCCEEDED, result_path=f"results/{i}.png",
                            thumb_path=f"thumbs/{i}.jpg", width=8, height=8, finished_at=utcnow()))
        session.commit()
    first = paused_client.get("/api/gallery").json()
    second = paused_client.get("/api/gallery?page=2").json()
    assert (first["total"], first["pages"], len(first["jobs"]), len(second["jobs"])) == (30, 2, 24, 6)
    assert first["jobs"][0]["kind"] == "video"
    html = paused_client.get("/gallery").text
    assert "Video" in html and 'href="/gallery?page=2&amp;as_of=' in html   # the moment kept


def test_the_create_page_offers_only_installed_engines_in_plain_words(
        client: TestClient) -> None:
    engines = {e["name"]: e for e in client.get("/api/engines").json()}
    assert engines["microast"]["ready"] and not engines["adain"]["ready"]
    assert (engines["microast"]["label"], engines["microast"]["video"]) == ("Fast", True)
    assert engines["gatys-lite"]["iterative"] and not engines["gatys-lite"]["video"]
    page = client.get("/").text
    offered = re.findall(r'<option value="([\w-]+)"', page)
    assert offered[:3] == ["auto", "microast", "gatys-lite"] and "adain" not in offered
    assert re.search(r'<option value="microast"[^>]*>Fast</option>', page)
    assert "MicroAST (Wang et al., AAAI 2023)" in page          # the technical name, as a hint
    assert "dreamgen weights" not in page and "`" not in page   # no shell commands for users
    assert "dreamgen_owner" in client.cookies


def test_two_styles_with_weights_and_preserved_colour(client: TestClient) -> None:
    files = image_files(None, png_bytes(seed=1), png_bytes(seed=2))
    job = submit(client, files, style_weights="2, 1", preserve_color="true", alpha=0.5)
    assert job.status_code == 201, job.text
    done = wait_for(client, job.json()["id"])
    assert done["state"] == "succeeded", done["error"]
    assert done["options"]["style_weights"] == [2.0, 1.0] and done["options"]["preserve_color"]
    assert len(done["links"]["styles"]) == 2
    page = client.get(f"/jobs/{done['id']}").text
    assert "2.0, 1.0" in page and "Keep colours</dt><dd>yes" in page


def test_deleting_a_running_job_cancels_it_first(client: TestClient) -> None:
    job = submit(client, engine="gatys-lite", size=64, iterations=2000).json()
    assert wait_for(client, job["id"], ("running",))["state"] == "running"
    assert client.delete(f"/api/jobs/{job['id']}").status_code == 202
    assert wait_for(client, job["id"], timeout_s=60)["state"] == "cancelled"
    assert client.delete(f"/api/jobs/{job['id']}").status_code == 204
    assert client.get(f"/api/jobs/{job['id']}").status_code == 404


def test_share_cards_use_the_public_url_when_set(make_settings) -> None:  # type: ignore[no-untyped-def]
    from app.web.main import create_app

    with TestClient(create_app(make_settings(public_url="https://studio.example/"))) as client:
        done = wait_for(client, submit(client).json()["id"])
        share = client.get(done["links"]["share"]).text
        assert meta(share, "og:image") == "https://studio.example" + done["links"]["result"]
        assert meta(share, "og:url") == "https://studio.example" + done["links"]["share"]


@pytest.mark.parametrize("base, public_url, local", [
    ("http://127.0.0.1:8000", "", True), ("http://localhost:8000", "", True),
    ("http://[::1]:8000", "", True), ("http://127.0.0.1:8000", "http://192.168.1.20:8000", False),
    ("http://192.168.1.20:8000", "", False), ("http://studio.lan", "", False)])
def test_links_that_work_on_this_computer_only_say_so(make_settings, base: str,  # type: ignore[no-untyped-def]
                                                      public_url: str, local: bool) -> None:
    """With the default 127.0.0.1 a share link or key link reaches nothing from a phone."""
    from app.web.main import create_app
    from tests.web.test_me import owner_of, seed

    settings = make_settings(run_worker=False, public_url=public_url)
    with TestClient(create_app(settings), base_url=base) as client:
        job = seed(client, owner_of(client), width=96, height=64, attempts=1,
                   result_path="results/x.png", share_token="localtoken1234",
                   started_at=utcnow(), finished_at=utcnow())
        pages = {"result": client.get(f"/r/{job}").text,
                 "share": client.get("/s/localtoken1234").text,
                 "key": client.post("/me/key/new").text}
    for name, page in pages.items():
        note = 'id="key-local-note"' if name == "key" else 'id="share-local-note"'
        assert (note in page) is local, (name, base)
        if local:
            assert "works on this computer only" in page and "--host 0.0.0.0" in page
            assert "DREAMGEN_PUBLIC_URL" in page


def test_a_browser_form_with_an_empty_file_input(client: TestClient) -> None:
    """Browsers send an unused file input as a part without a filename."""
    first = wait_for(client, submit(client).json()["id"])
    empty = ("style", ("", b"", "application/octet-stream"))
    content = ("content", ("c.png", png_bytes(seed=5), "image/png"))
    reused = client.post("/create", files=[content, empty], follow_redirects=False,
                         data={"engine": "microast", "size": "64", "style_from": first["id"]})
    assert reused.status_code == 303, reused.text
    missing = client.post("/create", files=[content, empty], data={"engine": "microast"})
    assert missing.status_code == 422 and "at least one style" in missing.text
    bad_number = client.post("/create", files=[content], data={"alpha": "lots"})
    assert bad_number.status_code == 422 and "style strength must be a number" in \
        bad_number.text and "<html" in bad_number.text and "alpha:" not in bad_number.text
