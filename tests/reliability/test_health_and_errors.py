"""The health check, the worker loop that survives anything, and errors that carry an id."""

from __future__ import annotations

import logging
import re
import threading
from typing import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from app.jobs.worker import WorkerPool
from app.settings import Settings
from app.web.main import create_app
from tests.support.waiting import wait_until
from tests.web.conftest import submit, wait_for


def test_healthz_reports_database_and_workers(client: TestClient) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["workers"]["alive"] == body["workers"]["expected"] == 1


def test_healthz_is_503_when_the_database_does_not_answer(client: TestClient) -> None:
    client.app.state.db_engine = create_engine("sqlite:////nonexistent-dir/x/dreamgen.db")
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json()["status"] == "unhealthy"
    assert health.json()["database"].startswith("not answering")


class WorkerKilled(BaseException):
    """Not an ``Exception``: escapes the worker loop's guard, as a bug could."""


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_the_worker_loop_survives_errors_and_a_dead_worker_is_restarted(
        client: TestClient, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    from app.jobs import pieces

    real_claim = pieces.claim_next_work
    calls = {"n": 0}

    def flaky_claim(*args: object):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] <= 2:
            raise RuntimeError("database went away for a moment")
        if calls["n"] == 3:
            raise WorkerKilled()
        return real_claim(*args)

    pool = client.app.state.workers
    first = pool.workers[0]
    monkeypatch.setattr(WorkerPool, "SUPERVISE_EVERY_S", 4.0)   # time to see it down
    monkeypatch.setattr("app.jobs.worker.pieces.claim_next_work", flaky_claim)
    with caplog.at_level(logging.ERROR, logger="dreamgen.worker"):
        first.wake.set()
        wait_until("the worker thread to die", lambda: not first.is_alive(), 30)
        down = wait_until("healthz to report it", lambda: (lambda r: r if r.status_code == 503
                                                      else None)(client.get("/healthz")), 30)
        assert down.json()["workers"]["alive"] == 0
        wait_until("the supervisor to restart it", lambda: pool.restarts >= 1, 30)
    errors = [r for r in caplog.records if "unexpected error" in r.getMessage()]
    assert len(errors) == 2 and all(r.exc_info for r in errors)      # logged with tracebacks
    assert any("died; starting it again" in r.getMessage() for r in caplog.records)
    assert client.get("/healthz").json()["workers"]["alive"] == 1
    done = wait_for(client, submit(client).json()["id"])              # and jobs run again
    assert done["state"] == "succeeded", done["error"]


@pytest.fixture
def fragile_client(make_settings: Callable[..., Settings],
                   monkeypatch: pytest.MonkeyPatch) -> TestClient:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the gallery query broke")

    monkeypatch.setattr("app.web.routes.api.gallery_out", broken)
    monkeypatch.setattr("app.web.routes.pages.gallery_out", broken)
    with TestClient(create_app(make_settings(run_worker=False)),
                    raise_server_exceptions=False) as client:
        yield client


def test_an_unhandled_error_answers_with_a_request_id_and_logs_it(
        fragile_client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="dreamgen.web"):
        api = fragile_client.get("/api/gallery")
    assert api.status_code == 500
    rid = api.headers["x-request-id"]
    assert api.json()["request_id"] == rid and rid in api.json()["detail"]
    assert "Internal Server Error" not in api.text
    [record] = [r for r in caplog.records if rid in r.getMessage()]
    assert record.exc_info and "the gallery query broke" in str(record.exc_info[1])
    page = fragile_client.get("/gallery", headers={"Accept": "text/html"})
    assert page.status_code == 500 and "text/html" in page.headers["content-type"]
    page_id = page.headers["x-request-id"]
    assert page_id in page.text and "Something broke" in page.text


def test_request_ids_are_sent_and_a_proxys_id_is_kept(paused_client: TestClient) -> None:
    own = paused_client.get("/api/engines").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{12}", own)
    kept = paused_client.get("/api/engines", headers={"X-Request-ID": "proxy-1234-abcd"})
    assert kept.headers["x-request-id"] == "proxy-1234-abcd"
    forged = paused_client.get("/api/engines", headers={"X-Request-ID": "<script>"})
    assert forged.headers["x-request-id"] != "<script>"


def test_a_shutdown_with_a_running_job_is_quick(make_settings: Callable[..., Settings]) -> None:
    """The worker pool stops within its grace period even while an engine is busy."""
    with TestClient(create_app(make_settings())) as client:
        job = submit(client, engine="gatys-lite", size=64, iterations=2000).json()
        wait_for(client, job["id"], ("running",))
        pool = client.app.state.workers
        stopped = threading.Event()
        timer = threading.Thread(target=lambda: (pool.stop(), stopped.set()))
        timer.start()
        assert stopped.wait(10), "the workers did not stop within 10 s"
