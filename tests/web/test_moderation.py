"""Moderation: the admin hides or deletes any public result; a hidden one leaves the gallery,
its share page says it was removed, its pages answer only its owner and the admin, its files
only the admin, and nothing its owner does makes it public again."""

from __future__ import annotations

from typing import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db.engine import begin_write
from app.db.models import Job
from app.settings import Settings
from app.web.main import create_app
from tests.support.images import png_bytes
from tests.support.shared import shared_dir
from tests.web.conftest import submit, wait_for
from tests.web.test_me import another_browser, job_files, left_of

TOKEN = "moderation-token-for-tests"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def moderated(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    # no rate limit: the walk below tries every way to make something new, twice over
    with TestClient(create_app(make_settings(admin_token=TOKEN,
                                             rate_limit_per_minute=0))) as test_client:
        yield test_client


@pytest.fixture
def published(moderated: TestClient) -> dict:
    return wait_for(moderated, submit(moderated).json()["id"])


def test_a_hidden_result_is_removed_for_everyone_but_its_owner_and_the_admin(
        moderated: TestClient, published: dict) -> None:
    job_id, share = published["id"], published["links"]["share"]
    stranger = another_browser(moderated)
    assert stranger.post(f"/api/admin/jobs/{job_id}/hide", json={"hidden": True}).status_code \
        == 403
    assert moderated.post(f"/api/admin/jobs/{job_id}/hide", json={"hidden": True}).status_code \
        == 403                                           # the owner is no admin either
    hidden = stranger.post(f"/api/admin/jobs/{job_id}/hide", json={"hidden": True},
                           headers=ADMIN)
    assert hidden.status_code == 200 and hidden.json()["hidden"] is True

    assert stranger.get("/api/gallery").json()["total"] == 0
    assert job_id not in stranger.get("/gallery").text
    removed = stranger.get(share)
    assert removed.status_code == 410 and "removed by the studio" in removed.text
    assert published["links"]["result"] not in removed.text
    assert stranger.get(f"/jobs/{job_id}").status_code == 410
    assert stranger.get(published["links"]["result"]).status_code == 404
    assert stranger.get(published["links"]["thumb"]).status_code == 404
    assert stranger.get(published["links"]["download"]).status_code == 404
    api = stranger.get(f"/api/jobs/{job_id}")                  # the JSON says the same
    assert api.status_code == 410 and "removed by the studio" in api.json()["detail"]
    events = stranger.get(f"/api/jobs/{job_id}/events").text
    assert "event: gone" in events and "removed by the studio" in events
    assert published["links"]["result"] not in events
    assert moderated.get(f"/api/jobs/{job_id}").json()["hidden"] is True     # the owner's

    owner_page = moderated.get(f"/jobs/{job_id}")
    assert owner_page.status_code == 200 and "Hidden by the studio's admin" in owner_page.text
    assert published["links"]["result"] not in owner_page.text
    assert moderated.get(published["links"]["result"]).status_code == 404   # its owner too
    assert stranger.get(published["links"]["result"], headers=ADMIN).status_code == 200

    stranger.post(f"/api/admin/jobs/{job_id}/hide", json={"hidden": False}, headers=ADMIN)
    assert stranger.get(share).status_code == 200
    assert stranger.get("/api/gallery").json()["total"] == 1


def test_the_admin_deletes_any_result(moderated: TestClient, published: dict) -> None:
    stranger = another_browser(moderated)
    assert stranger.delete(f"/api/admin/jobs/{published['id']}").status_code == 403
    files = job_files(moderated, published["id"])
    assert left_of(moderated, files) == files
    assert stranger.delete(f"/api/admin/jobs/{published['id']}", headers=ADMIN).status_code \
        == 204
    assert left_of(moderated, files) == set()
    assert moderated.get(f"/api/jobs/{published['id']}").status_code == 404


def test_the_admin_page_lists_recent_public_results(moderated: TestClient, published: dict) -> None:
    admin = another_browser(moderated)
    signed_in = admin.post("/admin/sign-in", data={"token": TOKEN}, follow_redirects=False)
    assert signed_in.status_code == 303
    page = admin.get("/admin").text
    assert f'data-job="{published["id"]}"' in page and "Recent public results" in page
    assert 'Moderation (admin)' in admin.get(f"/jobs/{published['id']}").text
    assert 'Moderation (admin)' not in moderated.get(f"/jobs/{published['id']}").text
    hide = admin.post(f"/admin/jobs/{published['id']}/hide",
                      data={"hidden": "true", "next": "https://evil.example/"},
                      follow_redirects=False)
    assert hide.status_code == 303 and hide.headers["location"] == "/admin"   # no open redirect
    assert 'data-hidden="true"' in admin.get("/admin").text
    gone = admin.post(f"/admin/jobs/{published['id']}/delete", follow_redirects=False)
    assert gone.headers["location"].startswith("/admin?notice=deleted")
    assert "Deleted." in admin.get("/admin?notice=deleted").text


def test_the_admins_delete_of_a_running_job_cannot_be_undone_by_its_owner(
        make_settings: Callable[..., Settings]) -> None:
    from app.jobs.queue import claim_next_job

    with TestClient(create_app(make_settings(admin_token=TOKEN, run_worker=False))) as owner:
        job_id = submit(owner).json()["id"]
        engine = owner.app.state.session_factory.kw["bind"]
        assert claim_next_job(engine, "test").public_id == job_id      # running, held
        stranger = another_browser(owner)
        assert stranger.delete(f"/api/admin/jobs/{job_id}", headers=ADMIN).status_code == 204
        assert owner.get(f"/api/jobs/{job_id}").status_code == 404
        undo = owner.post(f"/api/jobs/{job_id}/restore")
        assert undo.status_code == 409 and "too late" in undo.json()["detail"]


def job_routes(job: dict) -> list[str]:
    """Every route that serves a file of ``job`` (the links as they were while it was
    public: the result, thumbnail, live preview, poster, partial clip, style images,
    original, download; the strength preview is its owner's, tested on its own)."""
    links = job["links"]
    urls = [links[k] for k in ("result", "thumb", "preview", "poster", "partial", "content",
                               "download") if links.get(k)]
    return urls + list(links["styles"])


def give_a_partial(client: TestClient, job_id: str) -> str:
    """Give a finished clip the playable partial result a running one has (a copy of its
    result under ``segments/``, named by ``partial_path``); returns its URL."""
    store = client.app.state.store
    with client.app.state.session_factory() as session:
        begin_write(session)        # read and write in one write transaction (no stale snapshot)
        job = session.scalar(select(Job).where(Job.public_id == job_id))
        job.partial_path = store.new_path("segments", ".mp4")
        store.write_atomic(job.partial_path, store.path(job.result_path).read_bytes())
        session.commit()
        return f"/media/{job.partial_path}"


def test_nothing_of_a_hidden_result_is_served_nor_reused(moderated: TestClient,
                                                         published: dict) -> None:
    """Walks every route that serves or reuses a job's files, for a Fast result (strength
    preview, versions), a Painterly one (its last live preview, a near-copy) and a clip
    (its poster, its partial result and segments)."""
    owner = moderated
    painted = wait_for(owner, submit(owner, engine="gatys-lite", size=64,
                                     iterations=60).json()["id"])
    assert painted["state"] == "succeeded" and painted["links"]["preview"]
    clip = (shared_dir("media") / "pan_24fps_2s.mp4").read_bytes()
    filmed = wait_for(owner, submit(owner, [("content", ("clip.mp4", clip, "video/mp4")),
                                            ("style", ("s.png", png_bytes(), "image/png"))],
                                    size=64).json()["id"], timeout_s=300)
    assert filmed["state"] == "succeeded" and filmed["links"]["poster"]
    partial = give_a_partial(owner, filmed["id"])   # as a running clip has (segments/)
    stranger = another_browser(owner)
    assert stranger.get(partial).status_code == 200
    jobs = [published, painted, filmed]
    files = {job["id"]: job_files(owner, job["id"]) for job in jobs}
    for job in jobs:                                     # all served while public
        assert all(owner.get(url).status_code == 200 for url in job_routes(job))
        assert all(stranger.get(url).status_code == 200
                   for url in job_routes(job) if url != job["links"]["content"])
        assert stranger.post(f"/api/admin/jobs/{job['id']}/hide", json={"hidden": True},
                             headers=ADMIN).status_code == 200

    for job in jobs:
        routes = job_routes(job) + [f"/media/{rel}" for rel in files[job["id"]]]
        for who, client in (("owner", owner), ("stranger", stranger)):
            for url in routes:
                assert client.get(url).status_code in (404, 410), (who, url)
        for url in job_routes(job):                  # the admin sees what it hid
            assert stranger.get(url, headers=ADMIN).status_code == 200, url
        seen = owner.get(f"/api/jobs/{job['id']}").json()
        assert seen["hidden"] and not any(v for k, v in seen["links"].items() if k != "page")

        # nothing makes it public again: retry, run again, edit and retry, its styles
        job_id = job["id"]
        for url in (f"/api/jobs/{job_id}/retry", f"/jobs/{job_id}/retry"):
            refused = owner.post(url, follow_redirects=False)
            assert refused.status_code == 409 and "hid this result" in refused.text, url
        edit = owner.get(f"/?from={job_id}").text
        assert "hid this result" in edit and 'name="content_from"' not in edit
        again = owner.post("/api/jobs", data={"engine": "microast", "size": "64",
                                              "content_from": job_id, "style_from": job_id})
        assert again.status_code == 409 and "hid this result" in again.json()["detail"]
        for client, status in ((owner, 409), (stranger, 410)):
            reuse = client.get(f"/?style_from={job_id}").text
            assert 'name="style_from"' not in reuse and job_id not in reuse.split(
                'id="create-form"', 1)[1]
            content = [("content", ("c.png", png_bytes(seed=5), "image/png"))]
            taken = client.post("/api/jobs", files=content,
                                data={"engine": "microast", "size": "64", "style_from": job_id})
            assert taken.status_code == status, taken.text
        assert owner.get(f"/s/{job['links']['share'].rsplit('/', 1)[1]}").status_code == 410

    # the Fast one: no strength preview, no saved version (a public copy of it)
    job_id = published["id"]
    assert owner.get(f"/api/jobs/{job_id}/strength-preview?alpha=0.5").status_code == 409
    for url, body in ((f"/api/jobs/{job_id}/versions", {"json": {"alpha": 0.5}}),
                      (f"/jobs/{job_id}/versions", {"data": {"alpha": "0.5"}})):
        refused = owner.post(url, follow_redirects=False, **body)
        assert refused.status_code == 409 and "hid this result" in refused.text, url
    assert owner.patch(f"/api/jobs/{job_id}", json={"show_original": True}).status_code == 200
    assert stranger.get(published["links"]["content"]).status_code == 404   # still hidden
    assert stranger.get("/api/gallery").json()["total"] == 0
    assert len(owner.get("/api/me/jobs").json()["jobs"]) == 3     # nothing new was made

    stranger.post(f"/api/admin/jobs/{job_id}/hide", json={"hidden": False}, headers=ADMIN)
    assert stranger.get(published["links"]["result"]).status_code == 200   # the admin's word
    assert owner.post(f"/api/jobs/{job_id}/retry").status_code == 201
