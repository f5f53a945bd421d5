"""``POST /api/batches`` and what follows through real HTTP: a ZIP with a damaged member,
repeated ``content`` files, the download, retry of the failed ones, and who may see it."""

from __future__ import annotations

import io
import zipfile

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.batches.conftest import FORM, STYLE, photos, zip_of
from tests.support.images import png_bytes
from tests.support.waiting import wait_until
from tests.web.conftest import job_count, stored_files, wait_for


def wait_for_batch(client: TestClient, batch_id: str, timeout_s: float = 240.0) -> dict:
    def finished() -> dict | None:
        batch = client.get(f"/api/batches/{batch_id}").json()
        return batch if batch["state"] == "finished" else None

    return wait_until(f"batch {batch_id} to finish", finished, timeout_s)


@pytest.mark.slow   # several seconds on a 2-core CPU: not in the fast tier
def test_zip_of_five_with_one_damaged_gives_four_results_and_a_zip_of_four(
        client: TestClient) -> None:
    members = photos(4)
    members["holiday/broken.png"] = png_bytes(seed=99)[:120]      # cut off mid-picture
    response = client.post("/api/batches", data=FORM, files=[
        ("zip", ("trip.zip", zip_of(members), "application/zip")), *STYLE])
    assert response.status_code == 201, response.text
    body = response.json()
    assert len(body["jobs"]) == 4
    assert [r["name"] for r in body["refused"]] == ["broken.png"]
    assert "damaged" in body["refused"][0]["reason"]
    batch = wait_for_batch(client, body["id"])
    assert batch["counts"]["succeeded"] == 4 and batch["progress"] == 1.0
    assert [p["name"] for p in batch["photos"]] == sorted(photos(4))
    download = client.get(batch["links"]["download"])
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    assert "attachment" in download.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(download.content)) as results:
        assert results.testzip() is None
        assert sorted(results.namelist()) == sorted(photos(4))     # named after the uploads
        first = results.read(results.namelist()[0])
    assert first.startswith(b"\x89PNG") or first.startswith(b"\xff\xd8")


@pytest.mark.slow   # several seconds on a 2-core CPU: not in the fast tier
def test_repeated_content_files_with_the_same_name_download_under_unique_names(
        client: TestClient) -> None:
    files = [("content", ("cat.png", png_bytes(seed=s), "image/png")) for s in (1, 2)]
    files.append(("content", ("notes.png", b"just some text, not a picture", "image/png")))
    response = client.post("/api/batches", data=FORM, files=[*files, *STYLE])
    assert response.status_code == 201, response.text
    body = response.json()
    assert len(body["jobs"]) == 2
    assert body["refused"][0]["name"] == "notes.png"
    wait_for_batch(client, body["id"])
    with zipfile.ZipFile(io.BytesIO(client.get(body["links"]["download"]).content)) as got:
        assert sorted(got.namelist()) == ["cat (2).png", "cat.png"]


def test_retry_runs_only_the_failed_ones(client: TestClient) -> None:
    response = client.post("/api/batches", data=FORM, files=[
        ("zip", ("two.zip", zip_of(photos(2)), "application/zip")), *STYLE])
    body = response.json()
    batch = wait_for_batch(client, body["id"])
    assert client.post(batch["links"]["retry"]).status_code == 409    # nothing failed
    first, second = batch["jobs"]
    with client.app.state.session_factory() as session:         # the first one failed
        session.execute(text(
            "UPDATE jobs SET state='failed', error='boom' WHERE public_id=:id"),
            {"id": first["id"]})
        session.commit()
    before = job_count(client)
    retried = client.post(batch["links"]["retry"])
    assert retried.status_code == 200, retried.text
    jobs = retried.json()["jobs"]
    assert job_count(client) == before + 1
    assert jobs[0]["id"] != first["id"] and jobs[1]["id"] == second["id"]
    wait_for(client, jobs[0]["id"])
    assert wait_for_batch(client, body["id"])["counts"]["succeeded"] == 2


def test_a_batch_is_its_owners_alone(paused_client: TestClient) -> None:
    response = paused_client.post("/api/batches", data=FORM, files=[
        ("content", ("a.png", png_bytes(seed=1), "image/png")), *STYLE])
    batch_id = response.json()["id"]
    assert response.json()["state"] == "running"
    paused_client.cookies.clear()
    for path in (f"/api/batches/{batch_id}", f"/api/batches/{batch_id}/download",
                 f"/batches/{batch_id}"):
        assert paused_client.get(path).status_code == 404


def test_bad_requests_are_refused_and_keep_nothing(paused_client: TestClient) -> None:
    before = stored_files(paused_client)
    cases = [
        ([*STYLE], 422, "choose the photos"),
        ([("content", ("a.png", png_bytes(), "image/png")),
          ("zip", ("a.zip", zip_of(photos(1)), "application/zip")), *STYLE], 422, "not both"),
        ([("zip", ("a.zip", png_bytes(), "application/zip")), *STYLE], 415, "not a ZIP"),
        ([("content", ("bad.png", b"nope", "image/png")), *STYLE], 422,
         "none of the photos could be used"),
    ]
    for files, status, words in cases:
        response = paused_client.post("/api/batches", data=FORM, files=files)
        assert response.status_code == status, response.text
        assert words in response.json()["detail"]
    refused = paused_client.post("/api/batches", data={**FORM, "alpha": "2"}, files=[
        ("content", ("a.png", png_bytes(), "image/png")), *STYLE])
    assert refused.status_code == 422 and "style strength" in refused.json()["detail"]
    assert job_count(paused_client) == 0
    assert stored_files(paused_client) == before
    with paused_client.app.state.session_factory() as session:
        count = session.execute(text(
            "SELECT count(*) FROM batches")).scalar()
    assert count == 0


def test_a_batch_goes_with_its_jobs_when_they_move_to_another_owner(
        paused_client: TestClient) -> None:
    response = paused_client.post("/api/batches", data=FORM, files=[
        ("content", ("a.png", png_bytes(seed=1), "image/png")), *STYLE])
    batch_id = response.json()["id"]
    phone = TestClient(paused_client.app)                # another browser, its own owner
    phone.get("/api/engines")
    with paused_client.app.state.session_factory() as session:   # as a key link's "move"
        session.execute(text("UPDATE jobs SET owner_id = :owner"),
                        {"owner": phone.cookies["dreamgen_owner"]})
        session.commit()
    assert paused_client.get(f"/api/batches/{batch_id}").status_code == 404
    assert paused_client.post(f"/api/batches/{batch_id}/retry").status_code == 404
    moved = phone.get(f"/api/batches/{batch_id}")
    assert moved.status_code == 200 and len(moved.json()["jobs"]) == 1
