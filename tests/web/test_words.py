"""Messages people see are sentences in plain words: no library names ("Pillow"), no decoder
or system wording ("Truncated File Read", "[Errno -2]"), no field names of the code
("alpha"), no jargon ("16x-pruned VGG-19"), and no painting words where a network dreams."""

from __future__ import annotations

import io
import re

from fastapi.testclient import TestClient
from PIL import Image

from app.db.models import utcnow
from tests.web.conftest import image_files, job_count, submit
from tests.web.test_me import owner_of, seed

NOT_FOR_PEOPLE = re.compile(r"Pillow|PIL\b|Errno|Truncated File Read|Traceback|Error:|"
                            r"\balpha\b|16x|pruned", re.IGNORECASE)


def truncated_png() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 60).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()[:900]


def test_damaged_and_unreadable_pictures_are_said_in_words(paused_client: TestClient) -> None:
    cut = submit(paused_client, image_files(truncated_png()))
    garbage = submit(paused_client, image_files(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64))
    for response in (cut, garbage):
        assert response.status_code == 422, response.text
        detail = response.json()["detail"]
        assert "damaged or truncated" in detail or "not an image we can read" in detail, detail
        assert not NOT_FOR_PEOPLE.search(detail), detail
    assert job_count(paused_client) == 0


def test_refused_fields_are_named_in_plain_words(paused_client: TestClient) -> None:
    json = {"content-type": "application/json"}
    checks = [
        (paused_client.post("/api/jobs/x/versions", content='{"alpha": 3}', headers=json),
         "style strength must be at most 1, not 3"),
        (paused_client.get("/api/jobs/x/strength-preview?alpha=lots"),
         "style strength must be a number, not 'lots'"),
        (paused_client.patch("/api/jobs/x", content='{"title": 5}', headers=json),
         "title must be text"),
        (paused_client.patch("/api/jobs/x", content='{"title": "x"', headers=json),
         "the request body is not valid JSON"),
        (submit(paused_client, alpha="strong"), "style strength must be a number"),
    ]
    for response, words in checks:
        assert response.status_code == 422, response.text
        assert words in response.json()["detail"], response.text
        assert not NOT_FOR_PEOPLE.search(response.json()["detail"])
    page = paused_client.post("/jobs/x/versions", data={"alpha": "3"})
    assert page.status_code == 422 and "style strength must be at most 1, not 3" in page.text


def test_the_create_page_has_no_code_words(paused_client: TestClient) -> None:
    page = paused_client.get("/").text
    visible = re.sub(r"<[^>]+>", " ", page)            # the text, not names in the markup
    assert "(alpha)" not in visible and "16x-pruned" not in page
    assert "small, fast copy of the VGG-19 picture network" in page


def test_a_dream_is_dreamed_not_painted(paused_client: TestClient) -> None:
    owner = owner_of(paused_client)
    running = seed(paused_client, owner, engine="deepdream", state="running", attempts=1,
                   options={"size": 64, "depth": "objects", "network": "pruned-vgg19"})
    page = paused_client.get(f"/jobs/{running}").text
    assert "Dreaming…" in page and "Painting…" not in page and 'data-mode="dream"' in page
    done = seed(paused_client, owner, engine="deepdream", width=64, height=40, attempts=1,
                started_at=utcnow(), finished_at=utcnow(),
                result_path="results/x.png", share_token="dreamtoken123",
                options={"size": 64, "depth": "objects", "network": "pruned-vgg19",
                         "octaves": 1, "dream_iterations": 1, "strength": 1.0})
    for url in (f"/r/{done}", "/s/dreamtoken123"):
        page = paused_client.get(url).text
        assert "painted" not in page.lower() and "Stylised" not in page, url
        assert "A picture dreamed with dreamgen" in page, url
