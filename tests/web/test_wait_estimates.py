"""Wait estimates: a queued job waits for the running job's time left and the jobs ahead of
it, each as long as recent runs of its engine and size took (per iteration for the painterly
engines); a running job's time left comes from its engine's own pace when it reports one."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.db.models import utcnow
from app.jobs.execute import RemainingTime
from tests.web.conftest import submit
from tests.web.test_me import owner_of, seed


def seed_runs(client: TestClient, engine: str, seconds: list[float], **options: Any) -> None:
    """Finished jobs that ran for ``seconds`` each."""
    owner = owner_of(client)
    for s in seconds:
        finished = utcnow() - timedelta(minutes=5)
        seed(client, owner, engine=engine, attempts=1, options={"size": 512, **options},
             started_at=finished - timedelta(seconds=s), finished_at=finished,
             width=512, height=512)


def running(client: TestClient, engine: str, elapsed_s: float, **values: Any) -> str:
    return seed(client, owner_of(client), engine=engine, state="running", attempts=1,
                options={"size": 512, **values.pop("options", {})},
                started_at=utcnow() - timedelta(seconds=elapsed_s), **values)


def test_queued_jobs_wait_for_the_running_one_and_those_ahead(paused_client: TestClient) -> None:
    seed_runs(paused_client, "microast", [4.0, 6.0, 5.0, 50.0])    # median 5.5 s at 512 px
    first = submit(paused_client, size="512").json()
    second = submit(paused_client, size="512").json()
    running(paused_client, "microast", elapsed_s=2.0)                # 3.5 s left
    first, second = (paused_client.get(f"/api/jobs/{j['id']}").json() for j in (first, second))
    assert first["wait_s"] == pytest.approx(3.5, abs=0.5)
    assert first["eta_s"] == pytest.approx(9.0, abs=0.5)
    assert second["wait_s"] == pytest.approx(9.0, abs=0.5)
    assert second["eta_s"] == pytest.approx(14.5, abs=0.5)
    page = paused_client.get(f"/jobs/{second['id']}").text
    assert "Number 2 in line" in page and "Starts in" in page
    assert re.search(r'id="wait">about (8|9|10) s<', page)
    assert page.count("in the queue") == 1                           # the title, once


def test_the_painterly_engines_scale_with_their_iterations(paused_client: TestClient) -> None:
    seed_runs(paused_client, "gatys-lite", [50.0, 50.0], iterations=100)   # 0.5 s each
    job = submit(paused_client, engine="gatys-lite", size="512", iterations="300").json()
    assert paused_client.get(f"/api/jobs/{job['id']}").json()["eta_s"] == \
        pytest.approx(150.0, abs=1.0)


def test_other_sizes_are_scaled_by_their_pixels(paused_client: TestClient) -> None:
    seed_runs(paused_client, "microast", [2.0])                       # 2 s at 512 px
    job = submit(paused_client, size="1024").json()
    assert paused_client.get(f"/api/jobs/{job['id']}").json()["eta_s"] == \
        pytest.approx(8.0, abs=0.5)


def test_a_tiny_run_is_not_scaled_up_to_a_promise(paused_client: TestClient) -> None:
    """A 96 px run's 1.5 s is mostly the engine's start: 28 times its pixels would promise
    43 s at 512 px. Runs under half the side are not scaled up; ones at half or more are."""
    seed_runs(paused_client, "microast", [1.5], size=96)
    page = paused_client.get("/").text
    assert eta_text(page, "fast", "style") == "no run this large on this server yet"
    small = submit(paused_client, size="200").json()                  # its size class
    assert paused_client.get(f"/api/jobs/{small['id']}").json()["eta_s"] == \
        pytest.approx(1.5, abs=0.3)
    job = submit(paused_client, size="512").json()
    assert paused_client.get(f"/api/jobs/{job['id']}").json()["eta_s"] is None
    seed_runs(paused_client, "microast", [2.0], size=256)             # 8 s at 512 px
    assert eta_text(paused_client.get("/").text, "fast", "style") == \
        "about 8 s at 512 px (from 2 runs here)"


def test_without_history_there_is_no_estimate(paused_client: TestClient) -> None:
    job = submit(paused_client).json()
    assert job["wait_s"] == 0.0 and job["eta_s"] is None
    assert "Done in" in paused_client.get(f"/jobs/{job['id']}").text


def test_a_running_job_uses_its_engines_own_estimate(paused_client: TestClient) -> None:
    seed_runs(paused_client, "gatys-lite", [10.0], iterations=300)
    job_id = running(paused_client, "gatys-lite", elapsed_s=30.0, progress=0.01,
                     options={"iterations": 2000},
                     eta_at=utcnow() + timedelta(seconds=40))
    assert paused_client.get(f"/api/jobs/{job_id}").json()["eta_s"] == pytest.approx(40, abs=1)


def test_a_running_job_without_engine_estimate_falls_back_to_history(
        paused_client: TestClient) -> None:
    seed_runs(paused_client, "microast", [10.0])
    seeded = time.monotonic()
    job_id = running(paused_client, "microast", elapsed_s=4.0)
    eta = paused_client.get(f"/api/jobs/{job_id}").json()["eta_s"]
    # 10 s typical, 4 s run when seeded, and whatever the request took on a busy machine
    assert 6 - (time.monotonic() - seeded) - 0.2 <= eta <= 6.2
    late = running(paused_client, "microast", elapsed_s=20.0, progress=0.5)
    assert paused_client.get(f"/api/jobs/{late}").json()["eta_s"] == pytest.approx(20, abs=1)


def test_remaining_time_comes_from_the_pace_after_the_first_report() -> None:
    clock = RemainingTime()
    assert clock.update(0.01, now=100.0) is None        # first report: setup not counted
    assert clock.update(0.02, now=100.2) is None        # too short a span to trust
    assert clock.update(0.11, now=101.0) == pytest.approx(8.9)   # 0.1 per s, 0.89 left
    assert clock.update(1.0, now=110.0) == 0.0


def eta_text(page: str, preset: str, mode: str) -> str:
    found = re.search(rf'id="eta-{preset}-{mode}"[^>]*>([^<]*)<', page)
    assert found, f"no time for {preset} ({mode}) on the page"
    return found.group(1)


def test_the_create_page_promises_no_time_this_server_has_not_measured(
        paused_client: TestClient) -> None:
    """"Balanced: about a minute" was written in advance; it is minutes on a small CPU."""
    page = paused_client.get("/").text
    for words in ("about a minute", "a few minutes", "Under a second", "many minutes"):
        assert words not in page
    for preset in ("fast", "balanced", "best"):
        for mode in ("style", "dream"):
            assert eta_text(page, preset, mode) == "no run on this server yet"
    seed_runs(paused_client, "microast", [2.0, 3.0, 2.0])            # median 2 s at 512 px
    seed_runs(paused_client, "gatys-lite", [50.0], iterations=100)   # 0.5 s an iteration
    page = paused_client.get("/").text
    assert eta_text(page, "fast", "style") == "about 2 s at 512 px (from 3 runs here)"
    # Balanced paints 200 iterations, Best 400 at 1024 px (four times the pixels)
    assert eta_text(page, "balanced", "style") == "about 1 min 40 s at 512 px (from 1 run here)"
    assert eta_text(page, "best", "style") == "about 13 min at 1024 px (from 1 run here)"
    assert eta_text(page, "fast", "dream") == "no run on this server yet"
    assert "Here: about 2 s at 512 px (from 3 runs here)." in page        # the engine's hint


def test_the_job_page_says_where_its_times_come_from(paused_client: TestClient) -> None:
    job = submit(paused_client).json()
    assert job["measured_runs"] == 0
    page = paused_client.get(f"/jobs/{job['id']}").text
    assert "No Fast run on this server yet, so no time estimate" in page
    seed_runs(paused_client, "microast", [2.0, 3.0])
    assert paused_client.get(f"/api/jobs/{job['id']}").json()["measured_runs"] == 2
    page = paused_client.get(f"/jobs/{job['id']}").text
    assert "Times from the last 2 Fast runs on this server." in page
