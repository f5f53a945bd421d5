"""Cancelling queued and running jobs; jobs interrupted by a restart resume or give up."""

from __future__ import annotations

import os
import socket
import threading
from typing import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.db.models import Job, JobState
from app.jobs.queue import claim_next_job
from app.jobs.worker import Worker
from app.settings import Settings
from app.web.main import create_app
from tests.web.conftest import submit, wait_for


def test_cancel_a_queued_job(paused_client: TestClient) -> None:
    job = submit(paused_client).json()
    assert job["queue_position"] == 1
    stranger = TestClient(paused_client.app)
    assert stranger.post(f"/api/jobs/{job['id']}/cancel").status_code == 403
    cancelled = paused_client.post(f"/api/jobs/{job['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    again = paused_client.post(f"/api/jobs/{job['id']}/cancel")
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]
    page = paused_client.get(f"/jobs/{job['id']}").text
    assert "Cancelled" in page and 'id="cancel"' not in page


def test_queue_positions_count_the_jobs_ahead(paused_client: TestClient) -> None:
    ids = [submit(paused_client).json()["id"] for _ in range(3)]
    positions = [paused_client.get(f"/api/jobs/{i}").json()["queue_position"] for i in ids]
    assert positions == [1, 2, 3]
    assert ">Number 3 in line</span>" in paused_client.get(f"/jobs/{ids[2]}").text


def test_cancel_a_running_gatys_job(client: TestClient) -> None:
    job = submit(client, engine="gatys-lite", size=64, iterations=2000).json()
    running = wait_for(client, job["id"], ("running", "succeeded", "failed", "cancelled"))
    assert running["state"] == "running"
    response = client.post(f"/jobs/{job['id']}/cancel", follow_redirects=False)
    assert response.status_code == 303
    done = wait_for(client, job["id"], timeout_s=60)
    assert done["state"] == "cancelled" and done["progress"] < 1.0
    assert done["links"]["result"] is None


@pytest.mark.slow   # several seconds on a 2-core CPU: not in the fast tier
def test_gatys_reports_previews_while_running(client: TestClient) -> None:
    job = submit(client, engine="gatys-lite", size=64, iterations=60).json()
    done = wait_for(client, job["id"])
    assert done["state"] == "succeeded", done["error"]
    assert done["links"]["preview"] is not None
    assert client.get(done["links"]["preview"]).headers["content-type"] == "image/jpeg"


DEAD_WORKER = f"{socket.gethostname()}-999999999-w0"      # no such process


def _leave_running(settings: Settings, attempts: int, worker_id: str = DEAD_WORKER) -> str:
    """Queue a job, then mark it as a crashed worker would leave it."""
    with TestClient(create_app(settings.model_copy(update={"run_worker": False}))) as client:
        job_id = submit(client).json()["id"]
        with client.app.state.session_factory() as session:
            session.execute(update(Job).where(Job.public_id == job_id).values(
                state=JobState.RUNNING, attempts=attempts, worker_id=worker_id))
            session.commit()
        assert client.get(f"/api/jobs/{job_id}").json()["state"] == "running"
    return job_id


def test_a_job_interrupted_by_a_restart_runs_again(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(max_attempts=3)
    job_id = _leave_running(settings, attempts=1)
    with TestClient(create_app(settings)) as client:
        done = wait_for(client, job_id)
        assert done["state"] == "succeeded", done["error"]


def test_a_job_that_keeps_crashing_the_server_gives_up(
        make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(max_attempts=2)
    job_id = _leave_running(settings, attempts=2)
    with TestClient(create_app(settings)) as client:
        done = wait_for(client, job_id)
        assert done["state"] == "failed" and "stopped during this job 2 times" in done["error"]
        assert "stopped during this job" in client.get(f"/jobs/{job_id}").text


def test_jobs_of_live_workers_and_other_machines_are_left_running(
        make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(run_worker=False)
    other_machine = _leave_running(settings, 1, "some-other-host-123-w0")
    live_process = _leave_running(settings, 1, f"{socket.gethostname()}-{os.getppid()}-w0")
    with TestClient(create_app(settings)) as client:
        for job_id in (other_machine, live_process):
            assert client.get(f"/api/jobs/{job_id}").json()["state"] == "running"


def test_shutdown_puts_a_running_job_back_in_the_queue(
        make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    with TestClient(create_app(settings)) as client:
        job_id = submit(client, engine="gatys-lite", size=64, iterations=2000).json()["id"]
        assert wait_for(client, job_id, ("running",))["state"] == "running"
    with TestClient(create_app(settings.model_copy(update={"run_worker": False}))) as client:
        job = client.get(f"/api/jobs/{job_id}").json()
        assert job["state"] == "queued" and "resumed" in job["message"]


def test_engine_errors_fail_the_job_with_the_message(paused_client: TestClient) -> None:
    job_id = submit(paused_client).json()["id"]
    store = paused_client.app.state.store
    with paused_client.app.state.session_factory() as session:   # the style file vanished
        job = session.query(Job).filter_by(public_id=job_id).one()
        store.remove(job.style_paths)
    engine = paused_client.app.state.session_factory.kw["bind"]
    worker = Worker(engine, store, paused_client.app.state.settings, "test", threading.Event())
    worker.run_job(claim_next_job(engine, "test"))
    worker.engine_process.close()
    done = paused_client.get(f"/api/jobs/{job_id}").json()
    assert done["state"] == "failed" and "does not exist" in done["error"]


def test_unexpected_exceptions_are_logged_and_shown_in_plain_words(
        paused_client: TestClient, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    job_id = submit(paused_client, engine="test-raise", size=72).json()["id"]
    engine = paused_client.app.state.session_factory.kw["bind"]
    worker = Worker(engine, paused_client.app.state.store, paused_client.app.state.settings,
                    "test", threading.Event())
    with caplog.at_level("ERROR", logger="dreamgen.worker"):
        worker.run_job(claim_next_job(engine, "test"))
    worker.engine_process.close()
    done = paused_client.get(f"/api/jobs/{job_id}").json()
    assert done["state"] == "failed"
    # the person reads a sentence and the job's id; the admin's log has the traceback
    assert done["error"] == ("something went wrong on our side while making it; try again, or "
                             "with other settings. If it happens again, tell the studio's "
                             f"admin: job {job_id}")
    logged = [r.getMessage() for r in caplog.records if "internal error" in r.getMessage()]
    assert logged and "Traceback" in logged[0] and "raise_error" in logged[0]
    assert "RuntimeError: the GPU caught fire (test fault)" in logged[0]
    page = paused_client.get(f"/jobs/{job_id}").text
    assert "something went wrong on our side" in page and "RuntimeError" not in page
