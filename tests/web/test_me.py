"""My results: every job of this browser and no one else's, in every state, newest first and
paged; retry with copies of the same files and options; delete with an undo (the files go
for good afterwards, the API's DELETE at once); a private key that carries the results to
another browser, adopted only by a same-site POST."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db.models import Job, utcnow
from app.people.styles import job_style_ids
from app.people.trash import UNDO_S, purge_due
from tests.support.waiting import wait_until
from tests.web.conftest import image_files, stored_files, submit, wait_for

STATES = ("queued", "running", "succeeded", "failed", "cancelled")


def owner_of(client: TestClient) -> str:
    client.get("/api/engines")           # the first visit sets the owner cookie
    return client.cookies["dreamgen_owner"]


def another_browser(client: TestClient) -> TestClient:
    """A second browser on the same server (its own cookie jar)."""
    other = TestClient(client.app)
    owner_of(other)
    return other


def job_files(client: TestClient, job_id: str) -> set[str]:
    """The media files a job's row names (the style library keeps copies of its own)."""
    with client.app.state.session_factory() as session:
        return set(session.scalar(select(Job).where(Job.public_id == job_id)).media_paths())


def left_of(client: TestClient, files: set[str]) -> set[str]:
    return files & stored_files(client)


def seed(client: TestClient, owner: str, **values: Any) -> str:
    """A job row in any state (no files needed to be listed)."""
    fields: dict[str, Any] = dict(owner_id=owner, kind="image", engine="microast",
                                  options={"size": 96, "alpha": 1.0}, content_path="uploads/x.png",
                                  style_paths=[], state="succeeded")
    fields.update(values)
    with client.app.state.session_factory() as session:
        job = Job(**fields)
        session.add(job)
        session.commit()
        return job.public_id


def test_my_jobs_lists_this_browser_only_in_every_state_newest_first(
        paused_client: TestClient) -> None:
    me = owner_of(paused_client)
    other = another_browser(paused_client)
    theirs = [seed(paused_client, other.cookies["dreamgen_owner"], state=s) for s in STATES]
    mine = [seed(paused_client, me, state=s) for s in STATES]
    mine.append(seed(paused_client, me, visibility="unlisted"))
    body = paused_client.get("/api/me/jobs").json()
    assert [j["id"] for j in body["jobs"]] == mine[::-1]
    assert {j["state"] for j in body["jobs"]} == set(STATES)
    assert body["total"] == 6 and all(j["is_owner"] for j in body["jobs"])
    assert not set(theirs) & {j["id"] for j in body["jobs"]}
    assert {j["id"] for j in other.get("/api/me/jobs").json()["jobs"]} == set(theirs)
    page = paused_client.get("/me").text
    assert all(f'data-job="{i}"' in page for i in mine)
    assert not any(f'data-job="{i}"' in page for i in theirs)


def test_my_jobs_are_paged(paused_client: TestClient) -> None:
    me = owner_of(paused_client)
    made = [seed(paused_client, me) for _ in range(30)]
    first = paused_client.get("/api/me/jobs").json()
    second = paused_client.get("/api/me/jobs?page=2").json()
    assert (first["total"], first["pages"], first["per_page"]) == (30, 2, 24)
    assert [j["id"] for j in first["jobs"] + second["jobs"]] == made[::-1]
    assert 'href="/me?page=2"' in paused_client.get("/me").text


def test_retry_queues_a_copy_with_the_same_files_and_settings(paused_client: TestClient) -> None:
    job = submit(paused_client, alpha="0.6", visibility="unlisted", title="Cat in bricks").json()
    assert paused_client.post(f"/api/jobs/{job['id']}/retry").status_code == 409   # still queued
    paused_client.post(f"/api/jobs/{job['id']}/cancel")
    retried = paused_client.post(f"/api/jobs/{job['id']}/retry")
    assert retried.status_code == 201, retried.text
    new = retried.json()
    assert new["state"] == "queued" and new["id"] != job["id"]
    assert new["options"] == job["options"] and new["visibility"] == "unlisted"
    assert new["title"] == "Cat in bricks"
    with paused_client.app.state.session_factory() as session:
        old_row, new_row = (session.scalar(select(Job).where(Job.public_id == i))
                            for i in (job["id"], new["id"]))
        store = paused_client.app.state.store
        assert new_row.content_path != old_row.content_path            # a copy of its own
        assert store.path(new_row.content_path).read_bytes() == \
            store.path(old_row.content_path).read_bytes()
        assert [store.path(p).read_bytes() for p in new_row.style_paths] == \
            [store.path(p).read_bytes() for p in old_row.style_paths]
        assert new_row.content_name == "photo.png"
        # the same pictures, so the same library styles: a retry counts as a use of them
        assert job_style_ids(session, new_row.id) == job_style_ids(session, old_row.id)
        assert None not in job_style_ids(session, new_row.id)
    other = another_browser(paused_client)
    assert other.post(f"/api/jobs/{job['id']}/retry").status_code == 403
    form = paused_client.post(f"/jobs/{job['id']}/retry", follow_redirects=False)
    assert form.status_code == 303 and form.headers["location"].startswith("/jobs/")


def test_a_retried_job_runs(client: TestClient) -> None:
    job = submit(client).json()
    assert wait_for(client, job["id"])["state"] == "succeeded"
    again = client.post(f"/api/jobs/{job['id']}/retry").json()
    done = wait_for(client, again["id"])
    assert done["state"] == "succeeded" and done["links"]["result"] != job["links"]["result"]


def test_delete_offers_an_undo_then_removes_the_files(paused_client: TestClient) -> None:
    job = submit(paused_client).json()
    files = job_files(paused_client, job["id"])
    assert len(files) == 2 and left_of(paused_client, files) == files
    deleted = paused_client.post(f"/jobs/{job['id']}/delete", follow_redirects=False)
    assert deleted.headers["location"] == f"/me?deleted={job['id']}"
    page = paused_client.get(deleted.headers["location"]).text
    assert "Deleted “Photo”." in page and f'action="/jobs/{job["id"]}/restore"' in page
    assert paused_client.get(f"/api/jobs/{job['id']}").status_code == 404
    assert job["id"] not in paused_client.get("/api/me/jobs").text
    assert left_of(paused_client, files) == files         # kept while "Undo" is offered

    restored = paused_client.post(f"/api/jobs/{job['id']}/restore")
    assert restored.status_code == 200 and restored.json()["state"] == "cancelled"
    assert paused_client.get(f"/api/jobs/{job['id']}").status_code == 200

    until = paused_client.post(f"/api/jobs/{job['id']}/trash").json()["undo_until"]
    assert until
    app = paused_client.app
    assert purge_due(app.state.db_engine, app.state.store) == 0          # not yet
    later = utcnow() + timedelta(seconds=UNDO_S + 1)
    assert purge_due(app.state.db_engine, app.state.store, now=later) == 1
    assert left_of(paused_client, files) == set()
    assert paused_client.post(f"/api/jobs/{job['id']}/restore").status_code == 404
    assert "Deleted." in paused_client.get(f"/me?deleted={job['id']}").text


def test_undo_is_refused_once_too_late(paused_client: TestClient) -> None:
    job = submit(paused_client).json()
    paused_client.post(f"/api/jobs/{job['id']}/trash")
    with paused_client.app.state.session_factory() as session:
        row = session.scalar(select(Job).where(Job.public_id == job["id"]))
        row.deleted_at = utcnow() - timedelta(seconds=UNDO_S + 1)
        session.commit()
    assert paused_client.post(f"/api/jobs/{job['id']}/restore").status_code == 409
    assert "Undo" not in paused_client.get(f"/me?deleted={job['id']}").text


def test_the_api_delete_still_removes_at_once(paused_client: TestClient) -> None:
    job = submit(paused_client).json()
    files = job_files(paused_client, job["id"])
    assert paused_client.delete(f"/api/jobs/{job['id']}").status_code == 204
    assert left_of(paused_client, files) == set()
    other_job = submit(paused_client).json()
    assert another_browser(paused_client).post(
        f"/api/jobs/{other_job['id']}/trash").status_code == 403


def made_key(client: TestClient) -> str:
    """Make a key link on My results (a POST that redirects to the page showing it)."""
    made = client.post("/me/key/new")
    assert made.status_code == 200, made.text
    return made.text.split('id="key-code">', 1)[1].split("<", 1)[0]


def jobs_listed(client: TestClient) -> set[str]:
    return {j["id"] for j in client.get("/api/me/jobs").json()["jobs"]}


def owner_in_db(client: TestClient, job_id: str) -> str:
    with client.app.state.session_factory() as session:
        return session.scalar(select(Job.owner_id).where(Job.public_id == job_id))


def test_a_key_opens_the_results_in_another_browser(paused_client: TestClient) -> None:
    mine = submit(paused_client).json()
    made = paused_client.post("/me/key/new", follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == "/me?key=new#key-panel"
    assert "dreamgen_new_key=" in made.headers["set-cookie"]
    assert "HttpOnly" in made.headers["set-cookie"]
    shown = paused_client.get("/me?key=new")
    assert shown.headers["cache-control"] == "private, no-store"
    assert shown.headers["vary"] == "Cookie"
    assert shown.headers["referrer-policy"] == "no-referrer"
    key = shown.text.split('id="key-code">', 1)[1].split("<", 1)[0]
    assert f"/me/key#{key}" in shown.text            # in the fragment: never sent to a server
    assert key not in made.headers["location"]
    assert key not in paused_client.get("/me").text  # shown after making it, not later

    phone = another_browser(paused_client)
    theirs = submit(phone).json()
    page = phone.get("/me/key")                     # what the link opens: asks first
    assert page.status_code == 200 and "Open results from another browser?" in page.text
    assert "set-cookie" not in page.headers
    assert page.headers["cache-control"] == "private, no-store"
    cross_site = phone.post("/me/key", data={"key": key}, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 403
    assert phone.post("/me/key", data={"key": "not-a-key"}).status_code == 404

    opened = phone.post("/me/key", data={"key": f"http://x/me/key#{key}"},
                        follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == "/me?opened=1"
    cookies = opened.headers.get_list("set-cookie")
    assert any(c.startswith(f"dreamgen_owner={owner_of(paused_client)};") and "HttpOnly" in c
               for c in cookies)
    phone_owner = owner_in_db(phone, theirs["id"])
    assert any(c.startswith(f"dreamgen_home={phone_owner};") for c in cookies)
    assert jobs_listed(phone) == {mine["id"]}                      # the key's results
    assert phone.delete(f"/api/jobs/{mine['id']}").status_code == 204

    paused_client.post("/me/key/new")                # a new key retires the old one
    stranger = another_browser(paused_client)
    assert stranger.post("/me/key", data={"key": key}).status_code == 404


def test_opening_a_key_link_never_hands_this_browsers_results_over(
        paused_client: TestClient) -> None:
    """A stranger's key link: "open those results here" (the default) moves nothing, the
    browser can switch back to its own results, and its own key still works."""
    stranger_key = made_key(paused_client)
    stranger_job = submit(paused_client).json()
    victim = another_browser(paused_client)
    private = submit(victim, visibility="unlisted").json()
    victim_owner = owner_in_db(victim, private["id"])
    victim_key = made_key(victim)

    page = victim.get("/me/key").text
    assert 'id="open-here"' in page and "Open those results here" in page
    assert 'name="move"' in page and "Move my 1 result there too" in page
    assert "for good" in page and "original photos included" in page      # the warning
    assert page.index('id="open-here"') < page.index('name="move"')      # the safe one first

    assert victim.post("/me/key", data={"key": stranger_key}).status_code == 200
    assert owner_in_db(victim, private["id"]) == victim_owner           # nothing moved
    assert jobs_listed(victim) == {stranger_job["id"]}
    assert jobs_listed(paused_client) == {stranger_job["id"]}            # the stranger's list
    assert paused_client.get(private["links"]["content"]).status_code == 404
    me = victim.get("/me").text
    assert 'id="home-panel"' in me and "This browser's own results (1) are kept" in me
    assert 'id="key-owner-note"' in victim.get("/").text       # what is made now goes there

    back = victim.post("/me/switch-back", follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == "/me?notice=switched-back"
    assert f"dreamgen_owner={victim_owner};" in back.headers["set-cookie"]
    assert jobs_listed(victim) == {private["id"]}
    assert 'id="home-panel"' not in victim.get("/me").text
    assert 'id="key-owner-note"' not in victim.get("/").text
    fresh = TestClient(paused_client.app)                 # the victim's own key still works
    assert fresh.post("/me/key", data={"key": victim_key}).status_code == 200
    assert jobs_listed(fresh) == {private["id"]}


def test_moving_this_browsers_results_is_a_separate_explicit_choice(
        paused_client: TestClient) -> None:
    key = made_key(paused_client)
    mine = submit(paused_client).json()
    phone = another_browser(paused_client)
    theirs = submit(phone).json()
    moved = phone.post("/me/key", data={"key": key, "move": "true"}, follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == "/me?moved=1"
    assert "dreamgen_home=;" in moved.headers["set-cookie"]    # nothing left to go back to
    assert jobs_listed(paused_client) == {mine["id"], theirs["id"]}
    assert "and the 1 it had before moved there" in phone.get("/me?moved=1").text


def test_reloading_the_page_that_shows_a_new_key_keeps_that_key(
        paused_client: TestClient) -> None:
    made = paused_client.post("/me/key/new", follow_redirects=False)
    first = paused_client.get(made.headers["location"]).text
    again = paused_client.get(made.headers["location"]).text      # a reload: a GET
    key = first.split('id="key-code">', 1)[1].split("<", 1)[0]
    assert f'id="key-code">{key}<' in again
    other = another_browser(paused_client)
    assert other.post("/me/key", data={"key": key}).status_code == 200   # still works
    # someone else's new-key cookie shows nothing: the key must be this owner's
    other.cookies.set("dreamgen_new_key", key)
    assert 'id="key-code"' not in another_browser(paused_client).get("/me?key=new").text


def test_a_new_visitor_opening_a_key_keeps_the_opened_cookie(paused_client: TestClient) -> None:
    key = made_key(paused_client)
    fresh = TestClient(paused_client.app)            # no cookie at all yet
    opened = fresh.post("/me/key", data={"key": key}, follow_redirects=False)
    cookies = opened.headers.get_list("set-cookie")
    assert len([c for c in cookies if c.startswith("dreamgen_owner=")]) == 1
    assert f"dreamgen_owner={owner_of(paused_client)};" in cookies[0]


def test_pages_and_json_with_the_owners_data_are_never_cached(
        paused_client: TestClient) -> None:
    job = submit(paused_client).json()
    assert job["is_owner"]
    for url in ("/me", "/api/me/jobs", f"/api/jobs/{job['id']}", f"/jobs/{job['id']}",
                f"/?from={job['id']}"):
        response = paused_client.get(url)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == "private, no-store", url
        assert "Cookie" in response.headers["vary"], url
    for response in (paused_client.patch(f"/api/jobs/{job['id']}", json={"title": "x"}),
                     submit(paused_client)):
        assert response.headers["cache-control"] == "private, no-store"
    seen = another_browser(paused_client).get(f"/api/jobs/{job['id']}")
    assert "Cookie" in seen.headers["vary"] and not seen.json()["is_owner"]


def test_uploads_keep_their_names_and_a_title(paused_client: TestClient) -> None:
    files = image_files()
    files[0] = ("content", ("My Cat_at home.png", files[0][1][1], "image/png"))
    job = submit(paused_client, files=files).json()
    assert job["title"] == "My Cat at home"
    changed = paused_client.patch(f"/api/jobs/{job['id']}", json={"title": "  Tiger\n "})
    assert changed.json()["title"] == "Tiger"
    assert paused_client.patch(f"/api/jobs/{job['id']}", json={"title": ""}).json()["title"] \
        == "My Cat at home"
    assert another_browser(paused_client).patch(f"/api/jobs/{job['id']}",
                                                json={"title": "x"}).status_code == 403
    # the details form shows the file's name as a placeholder, never as its value: saving
    # without typing keeps it private; typing it (confirming it) makes it the public title
    saved = paused_client.post(f"/jobs/{job['id']}/details", data={"title": ""},
                               follow_redirects=False)
    assert saved.status_code == 303
    assert another_browser(paused_client).get(f"/api/jobs/{job['id']}").json()["title"] == \
        "Untitled"
    paused_client.post(f"/jobs/{job['id']}/details", data={"title": "My Cat at home"})
    with paused_client.app.state.session_factory() as session:
        assert session.scalar(select(Job.title).where(Job.public_id == job["id"])) == \
            "My Cat at home"
    assert another_browser(paused_client).get(f"/api/jobs/{job['id']}").json()["title"] == \
        "My Cat at home"


def test_the_server_removes_deleted_jobs_for_good_by_itself(
        make_settings: Any, monkeypatch: Any) -> None:

    from app.people import trash
    from app.web.main import create_app

    monkeypatch.setattr(trash, "UNDO_S", 0.5)
    monkeypatch.setattr(trash, "COLLECT_EVERY_S", 0.2)
    with TestClient(create_app(make_settings(run_worker=False))) as client:
        job = submit(client).json()
        files = job_files(client, job["id"])
        client.post(f"/jobs/{job['id']}/delete")
        wait_until("the deleted job's files to go", lambda: not left_of(client, files), 20)
        with client.app.state.session_factory() as session:
            assert session.scalar(select(Job).where(Job.public_id == job["id"])) is None


def test_two_web_processes_purging_the_same_trash_do_not_trip_over_each_other(
        paused_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every web process runs the trash collector: a job another one removed meanwhile is
    skipped, and the rest of the round goes on."""
    from sqlalchemy import delete

    from app.people import trash

    first, second = (submit(paused_client).json() for _ in range(2))
    for job in (first, second):
        paused_client.post(f"/api/jobs/{job['id']}/trash")
    app = paused_client.app
    real_delete = trash.delete_job

    def delete_then_lose_the_other(session, job):      # the other process wins the race
        paths = real_delete(session, job)
        with app.state.db_engine.begin() as other:
            other.execute(delete(Job).where(Job.id != job.id))
        return paths

    monkeypatch.setattr(trash, "delete_job", delete_then_lose_the_other)
    later = utcnow() + timedelta(seconds=UNDO_S + 1)
    assert purge_due(app.state.db_engine, app.state.store, now=later) == 1
    for job in (first, second):
        assert paused_client.get(f"/api/jobs/{job['id']}").status_code == 404
