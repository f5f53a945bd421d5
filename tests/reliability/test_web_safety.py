"""Web safety: unguessable share links, media only from the media folder, the owner cookie,
cross-site request forgery, security headers, the rate limit and the disk-space floor."""

from __future__ import annotations

import base64
import re
from typing import Callable

import pytest
from fastapi.testclient import TestClient

from app.settings import Settings
from app.web.main import create_app
from tests.reliability.corpus import all_files_under
from tests.web.conftest import image_files, job_count, submit, wait_for

CROSS_SITE = [{"sec-fetch-site": "cross-site"}, {"sec-fetch-site": "same-site"},
              {"origin": "http://evil.example"}, {"origin": "null"}]
SAME_SITE = [{}, {"sec-fetch-site": "same-origin"}, {"origin": "http://testserver"},
             {"sec-fetch-site": "none"}]


def test_share_tokens_are_unguessable_and_unknown_ones_reveal_nothing(
        client: TestClient) -> None:
    done = [wait_for(client, submit(client, size=64).json()["id"]) for _ in range(2)]
    tokens = [job["links"]["share"].removeprefix("/s/") for job in done]
    assert tokens[0] != tokens[1]
    for token in tokens:
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8 >= 128
    near_miss = tokens[0][:-1] + ("A" if tokens[0][-1] != "A" else "B")
    for token in (near_miss, "0", "a" * 32, "%00", "../" + tokens[0]):
        response = client.get(f"/s/{token}")
        assert response.status_code == 404
        assert not any(t in response.text or j["id"] in response.text
                       for t, j in zip(tokens, done))
    from app.db.models import Job, JobState

    with client.app.state.session_factory() as session:      # a job still waiting
        waiting = Job(owner_id="someone-else", engine="microast", content_path="uploads/x.png",
                      state=JobState.QUEUED)
        session.add(waiting)
        session.commit()
        assert client.get(f"/s/{waiting.share_token}").status_code == 404


@pytest.mark.parametrize("path", [
    "/media/../dreamgen.db", "/media/%2e%2e/dreamgen.db", "/media/..%2fdreamgen.db",
    "/media/%2E%2E%2Fdreamgen.db", "/media/uploads/../../dreamgen.db",
    "/media/uploads/%2e%2e/%2e%2e/dreamgen.db", "/media/%252e%252e/dreamgen.db",
    "/media//etc/passwd", "/media/%2Fetc%2Fpasswd", "/media/..%5cdreamgen.db",
    "/media/%00", "/media/.", "/media/", "/media/uploads"])
def test_media_traversal_is_404(paused_client: TestClient, path: str) -> None:
    response = paused_client.get(path)
    assert response.status_code == 404, path
    assert "SQLite" not in response.text and "root:" not in response.text


def test_owner_cookie_flags(make_settings: Callable[..., Settings]) -> None:
    with TestClient(create_app(make_settings(run_worker=False))) as plain:
        cookie = plain.get("/").headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    with TestClient(create_app(make_settings(run_worker=False,
                                             public_url="https://studio.example"))) as proxied:
        cookie = proxied.get("/").headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "; secure" in cookie


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_cross_site_state_changes_are_refused(paused_client: TestClient,
                                              headers: dict[str, str]) -> None:
    job = submit(paused_client).json()
    attempts = [
        paused_client.post("/create", files=image_files(), data={"engine": "microast"},
                           headers=headers),
        paused_client.post("/api/jobs", files=image_files(), data={"engine": "microast"},
                           headers=headers),
        paused_client.post(f"/jobs/{job['id']}/delete", headers=headers),
        paused_client.post(f"/jobs/{job['id']}/cancel", headers=headers),
        paused_client.delete(f"/api/jobs/{job['id']}", headers=headers),
        paused_client.post(f"/api/jobs/{job['id']}/cancel", headers=headers),
    ]
    for response in attempts:
        assert response.status_code == 403, (response.request.url, response.text)
        assert "another site" in response.json()["detail"]
    assert job_count(paused_client) == 1
    assert paused_client.get(f"/api/jobs/{job['id']}").json()["state"] == "queued"


@pytest.mark.parametrize("headers", SAME_SITE)
def test_same_site_and_non_browser_requests_work(paused_client: TestClient,
                                                 headers: dict[str, str]) -> None:
    created = paused_client.post("/api/jobs", files=image_files(), headers=headers,
                                 data={"engine": "microast", "size": "64"})
    assert created.status_code == 201, created.text
    assert paused_client.delete(f"/api/jobs/{created.json()['id']}",
                                headers=headers).status_code == 204


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)


def test_security_headers_on_every_response(client: TestClient) -> None:
    done = wait_for(client, submit(client, size=64).json()["id"])
    urls = ["/", "/gallery", f"/jobs/{done['id']}", f"/r/{done['id']}", done["links"]["share"],
            "/api/engines", "/api/gallery", f"/api/jobs/{done['id']}", "/static/style.css",
            "/no/such/page", "/api/jobs/nope", done["links"]["result"], "/media/nope.png"]
    for url in urls:
        response = client.get(url)
        headers = response.headers
        assert headers["x-frame-options"] == "DENY", url
        assert headers["x-content-type-options"] == "nosniff", url
        assert headers["referrer-policy"] == "same-origin", url
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp or (
            "frame-ancestors 'none'" in csp and "script-src 'self';" in csp), (url, csp)
        if headers["content-type"].startswith("text/html"):
            assert not INLINE_SCRIPT.search(response.text), url
            assert not re.search(r"\son[a-z]+=", response.text), url    # no onclick= etc.
    too_big = client.post("/api/jobs", content=b"x", headers={
        "content-length": str(10**12), "content-type": "multipart/form-data; boundary=x"})
    assert too_big.status_code == 413 and too_big.headers["x-frame-options"] == "DENY"
    assert "MiB per-file limit" in too_big.json()["detail"]
    form = client.post("/create", content=b"x", headers={
        "content-length": str(10**12), "content-type": "multipart/form-data; boundary=x"})
    assert form.status_code == 413 and "MiB per-file limit" in form.text and "<html" in form.text


def test_rate_limit_says_so_in_json_and_on_the_page(
        make_settings: Callable[..., Settings]) -> None:
    with TestClient(create_app(make_settings(rate_limit_per_minute=1,
                                             run_worker=False))) as client:
        assert submit(client).status_code == 201
        api = submit(client)
        assert api.status_code == 429
        assert re.fullmatch(r"too many jobs: the limit is 1 a minute; try again in \d+ s",
                            api.json()["detail"])
        assert 1 <= int(api.headers["retry-after"]) <= 60
        page = client.post("/create", files=image_files(), data={"engine": "microast"})
        assert page.status_code == 429 and "too many jobs: the limit is 1 a minute" in page.text
        assert page.headers["retry-after"]
        # refused before the form is read (so nothing typed can be shown again): a way back
        assert 'href="/"' in page.text and job_count(client) == 1


def test_uploads_are_refused_below_the_disk_floor(
        make_settings: Callable[..., Settings]) -> None:
    with TestClient(create_app(make_settings(min_free_disk_mb=10**12,
                                             run_worker=False))) as client:
        api = submit(client)
        assert api.status_code == 507 and "low on disk space" in api.json()["detail"]
        page = client.post("/create", files=image_files(), data={"engine": "microast"})
        assert page.status_code == 507 and "low on disk space" in page.text
        assert job_count(client) == 0
        assert all_files_under(client.app.state.store.root) == set()
        assert client.get("/gallery").status_code == 200      # still serving pages
