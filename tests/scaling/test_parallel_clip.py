"""One clip made by two worker processes at once, on SQLite (one data folder shared by the
processes) and on PostgreSQL: the clip is cut into pieces that both workers take (both
their ids are among its pieces); one of them is SIGKILLed with everything it started while
it makes a piece; the other takes that piece over once the lease has run out, and the clip
ends once, whole: every frame, its duration and its sound, joined by exactly one worker,
with no segment file left behind.

Run: ``.venv/bin/python -m pytest -q tests/scaling/test_parallel_clip.py -s``.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from app.video.probe import VideoLimits, inspect_video
from tests.support.cluster import job_row, worker_rows
from tests.scaling.conftest import Cluster
from tests.support.images import png_bytes
from tests.support.waiting import wait_until
from tests.support.clips import pan_frames, write_clip

pytestmark = pytest.mark.slow
SECONDS, FPS = 8, 24           # eight pieces of one second


def pieces_of(cluster: Cluster, job_id: int) -> list[dict]:
    with cluster.db_engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(
            "SELECT * FROM job_segments WHERE job_id = :j ORDER BY number"),
            {"j": job_id}).mappings()]


def making_a_piece(cluster: Cluster, job_id: int, worker) -> bool:  # type: ignore[no-untyped-def]
    """Whether ``worker`` is making a piece of the job, after it made one already."""
    rows = pieces_of(cluster, job_id)
    ours = [r for r in rows if f"-{worker.pid}-w" in (r["worker_id"] or "")]
    return any(r["state"] == "done" for r in ours) and \
        any(r["state"] == "running" and r["progress"] > 0 for r in ours)


def test_two_workers_share_a_clip_and_one_dies_mid_piece(cluster: Cluster,
                                                         tmp_path: Path) -> None:
    cluster.env["DREAMGEN_VIDEO_SEGMENT_SECONDS"] = "1"
    web = cluster.web()
    first, second = cluster.worker("a"), cluster.worker("b")
    for worker in (first, second):
        worker.wait_ready()
    wait_until("both heartbeats", lambda: len(worker_rows(cluster.db_engine)) == 2, 60)
    clip = write_clip(tmp_path / "pan.mp4", pan_frames("coffee.png", (320, 240),
                                                       SECONDS * FPS, step=2),
                      fps=FPS, tone_hz=440.0)
    files = [("content", (clip.name, clip.read_bytes(), "video/mp4")),
             ("style", ("s.png", png_bytes(seed=4), "image/png"))]
    response = httpx.post(f"{web.url}/api/jobs", files=files, timeout=60,
                          data={"engine": "microast", "size": "192"})
    assert response.status_code == 201, response.text
    public_id = response.json()["id"]
    job_id = job_row(cluster.db_engine, public_id)["id"]
    wait_until("the clip cut into pieces", lambda: len(pieces_of(cluster, job_id)) == SECONDS,
               180)
    # kill whichever worker is caught making its second piece or later
    victim = wait_until("a worker caught mid-piece", lambda: next(
        (w for w in (first, second) if making_a_piece(cluster, job_id, w)), None), 300)
    survivor = second if victim is first else first
    victim.kill()
    row = wait_until("the clip to end", lambda: (lambda r: r if r["state"] in (
        "succeeded", "failed", "cancelled") else None)(job_row(cluster.db_engine, public_id)),
        600)
    assert row["state"] == "succeeded", row
    made_by = {r["worker_id"].split("-")[-2] for r in pieces_of(cluster, job_id)}
    assert made_by == {str(first.pid), str(second.pid)}          # both made pieces
    assert all(r["state"] == "done" for r in pieces_of(cluster, job_id))
    assert any(r["attempts"] == 2 for r in pieces_of(cluster, job_id))  # the one taken over
    assert survivor.log().count("every part is made; joining them") == 1
    assert "joining them" not in victim.log()
    result = cluster.media / row["result_path"]
    made, source = inspect_video(result, VideoLimits()), inspect_video(clip, VideoLimits())
    assert made.frame_count == source.frame_count == SECONDS * FPS
    assert abs(made.duration - source.duration) < 0.05 and made.has_audio
    assert list((cluster.media / "segments").rglob("*.mp4")) == []   # segments gone, joined
