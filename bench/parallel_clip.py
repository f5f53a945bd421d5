"""One clip on one worker process vs two (parallel segments, docs/scaling.md).

    .venv/bin/python -m bench.video --only parallel [--parallel-seconds 30]

A generated clip (a pan across a photo, with a tone; 24 fps, 256 px output, MicroAST on the
CPU) goes through a real web process and real ``dreamgen worker`` processes sharing a SQLite
database: once with one worker (torch on every core, as the default), once with one worker
on one torch thread, and once with two workers on one torch thread each. The time is the
job row's, from its first claim to its result (the database's clock), so process start-up
is left out; the load average (``uptime``) is printed with each run, as the machine is
shared.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
from sqlalchemy import text

from app.db.engine import make_db_engine, upgrade_to_head
from tests.support.cluster import (
    WorkerProcess,
    cluster_env,
    job_row,
    web_process,
    worker_rows,
)
from tests.support.images import png_bytes
from tests.support.shared import shared_dir
from tests.support.waiting import wait_until
from tests.support.clips import pan_frames, write_clip

FPS, SIDE = 24, 256


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def one_run(clip: Path, workers: int, threads: int) -> tuple[float, int]:
    """Seconds from the job's first claim to its result, and the pieces it was made in (0:
    made whole by one worker)."""
    with tempfile.TemporaryDirectory(prefix="dreamgen-bench-") as tmp:
        folder = Path(tmp)
        data = folder / "data"
        url = f"sqlite:///{(data / 'dreamgen.db').as_posix()}"
        env = {**cluster_env(data, "", shared_dir("weights")), "OMP_NUM_THREADS": str(threads),
               "DREAMGEN_LEASE_SECONDS": "30"}
        data.mkdir(parents=True)
        upgrade_to_head(url)
        db = make_db_engine(url, pool_size=2)
        web = web_process(data, shared_dir("weights"), env)
        procs = [WorkerProcess(f"w{i}", folder, env).start() for i in range(workers)]
        try:
            for proc in procs:
                proc.wait_ready()
            wait_until("every worker's heartbeat", lambda: len(worker_rows(db)) == workers, 60)
            files = [("content", (clip.name, clip.read_bytes(), "video/mp4")),
                     ("style", ("s.png", png_bytes(seed=4), "image/png"))]
            answer = httpx.post(f"{web.url}/api/jobs", files=files, timeout=120,
                                data={"engine": "microast", "size": str(SIDE)})
            answer.raise_for_status()
            job_id = answer.json()["id"]
            row = wait_until("the clip", lambda: (lambda r: r if r["state"] in (
                "succeeded", "failed") else None)(job_row(db, job_id)), 3600, every_s=1.0)
            assert row["state"] == "succeeded", row
            with db.connect() as conn:
                count = conn.execute(text("SELECT count(*) FROM job_segments")).scalar() or 0
            return _seconds(row["finished_at"]) - _seconds(row["started_at"]), int(count)
        finally:
            for proc in procs:
                proc.kill()
            web.kill()
            db.dispose()


def _seconds(moment: datetime | str) -> float:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.timestamp()


def compare(folder: Path, seconds: float) -> None:
    """Print the one-worker vs two-worker rows."""
    frames = int(seconds * FPS)
    clip = write_clip(folder / "parallel.mp4", pan_frames("coffee.png", (320, 240), frames,
                                                          step=1), fps=FPS, tone_hz=440.0)
    print(f"## parallel segments: {frames} frames ({seconds:g} s at {FPS} fps) at {SIDE} px, "
          f"MicroAST on the CPU ({os.cpu_count()} cores), segments of 8 s")
    runs = {}
    for workers, threads in ((1, os.cpu_count() or 1), (1, 1), (2, 1)):
        before = load()
        tick = time.perf_counter()
        took, pieces = one_run(clip, workers, threads)
        runs[(workers, threads)] = took
        print(f"{workers} worker(s) x {threads} torch thread(s): {took:6.1f} s, "
              f"{frames / took:5.1f} frames/s, "
              f"{f'{pieces} pieces' if pieces else 'made whole'}; {before} before, "
              f"{load()} after ({time.perf_counter() - tick:.0f} s with start-up)")
    one = runs[(1, os.cpu_count() or 1)]
    print(f"two workers vs one: {one / runs[(2, 1)]:.2f}x (vs one worker on one thread: "
          f"{runs[(1, 1)] / runs[(2, 1)]:.2f}x)")
