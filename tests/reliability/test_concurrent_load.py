"""Fifty uploads at once (images and a short clip) against the real server in a subprocess,
with the gallery read throughout: no 5xx, every job accounted for and run in the order it
was created, no "database is locked". To bound CI time the server is stopped once the first
ten jobs (a clip among them) have run; the rest must then be waiting, in order.
Timing figures (and a run to the last job) are bench/load.py's, not here."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.support.images import png_bytes
from tests.support.shared import shared_dir
from tests.support.server import FINISHED, db_rows, integrity
from tests.support.waiting import wait_until

JOBS = 50
RUN = 10                    # jobs that must have succeeded before the server is stopped
VIDEO_EVERY = 17            # uploads 0, 17 and 34 are the 2 s clip (24 frames a second)


def upload(url: str, index: int, clip: bytes) -> httpx.Response:
    content = ("content", ("clip.mp4", clip, "video/mp4")) if index % VIDEO_EVERY == 0 else \
        ("content", (f"c{index}.png", png_bytes((72, 56), seed=index), "image/png"))
    files = [content, ("style", ("s.png", png_bytes((64, 64), seed=index + 1), "image/png"))]
    with httpx.Client(base_url=url, timeout=120) as client:
        return client.post("/api/jobs", files=files, data={"engine": "microast", "size": "64"})


def read_gallery_until(url: str, stop: threading.Event, statuses: list[int]) -> None:
    """Read the gallery page and API while the uploads go in."""
    with httpx.Client(base_url=url, timeout=120) as client:
        while not stop.is_set():
            statuses.append(client.get("/gallery").status_code)
            statuses.append(client.get("/api/gallery").status_code)


def enough_ran_reading_pages(server: Any, statuses: list[int]) -> bool:
    """True once ``RUN`` jobs have finished; reads the pages on the way (as a visitor would)."""
    with httpx.Client(base_url=server.url, timeout=120) as client:
        statuses.append(client.get("/gallery").status_code)
        statuses.append(client.get("/api/gallery?page=2").status_code)
    return sum(row["state"] in FINISHED for row in db_rows(server.data_dir)) >= RUN


def test_fifty_concurrent_uploads(server_factory: Any) -> None:
    server = server_factory().start()
    clip = (shared_dir("media") / "pan_24fps_2s.mp4").read_bytes()
    stop, page_statuses = threading.Event(), []
    reader = threading.Thread(target=read_gallery_until, args=(server.url, stop, page_statuses))
    reader.start()
    try:
        with ThreadPoolExecutor(max_workers=JOBS) as pool:
            responses = list(pool.map(lambda i: upload(server.url, i, clip), range(JOBS)))
        assert [r.status_code for r in responses] == [201] * JOBS, \
            [r.text for r in responses if r.status_code != 201]
    finally:
        stop.set()
        reader.join(120)
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == JOBS
    assert sum(r.json()["kind"] == "video" for r in responses) == 3
    wait_until(f"{RUN} jobs to run", lambda: enough_ran_reading_pages(server, page_statuses), 400)
    server.stop()          # a job still running goes back to the queue

    assert page_statuses and set(page_statuses) == {200}, set(page_statuses)
    rows = db_rows(server.data_dir)
    assert {r["public_id"] for r in rows} == ids
    states = [r["state"] for r in rows]                # rows are in creation (id) order
    done = states.count("succeeded")
    assert done >= RUN and states == ["succeeded"] * done + ["queued"] * (JOBS - done), \
        [(r["state"], r["error"]) for r in rows]
    started = [r["started_at"] for r in rows if r["started_at"] is not None]
    assert started == sorted(started) and len(started) in (done, done + 1), \
        "a later job was claimed before an earlier one"
    assert all(r["result_path"] for r in rows[:done])
    assert integrity(server.data_dir) == "ok"
    log = server.log()
    assert "database is locked" not in log and "Traceback" not in log
    assert " 500 " not in log and '" 5' not in log


def test_250_concurrent_readers_all_get_answers_and_jobs_still_run(server_factory: Any) -> None:
    """250 concurrent GETs of the gallery and job pages once wedged the server (its pooled
    connections exhausted, the worker thread dead): now every one is answered, and a job
    submitted afterwards still runs."""
    from tests.support.crowd import read_crowd

    server = server_factory().start()
    ids = [upload(server.url, i + 1, clip=b"").json()["id"] for i in range(4)]
    wait_until("the gallery to fill", lambda: all(
        httpx.get(f"{server.url}/api/jobs/{i}", timeout=30).json()["state"] == "succeeded"
        for i in ids), 240)
    paths = ["/api/gallery", "/gallery", *(f"/jobs/{i}" for i in ids),
             *(f"/api/jobs/{i}" for i in ids)]
    crowd = read_crowd(server.url, paths, readers=250, total=1000)
    assert crowd.failures == 0, (set(crowd.statuses), crowd.errors[:5])
    assert set(crowd.statuses) == {200} and len(crowd.statuses) == 1000
    after = upload(server.url, 99, clip=b"").json()["id"]
    done = wait_until("a job after the crowd", lambda: (lambda job: job if job["state"] in FINISHED
                                                  else None)(httpx.get(
        f"{server.url}/api/jobs/{after}", timeout=30).json()), 120)
    assert done["state"] == "succeeded", done["error"]
    assert httpx.get(f"{server.url}/healthz", timeout=30).status_code == 200
    assert " 500 " not in server.log()
