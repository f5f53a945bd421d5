"""A crash in native code while a job runs fails (or retries) that job, never the server.

The engines run in a child process per worker (app/jobs/runner.py). These tests make that
child really die — a SIGSEGV and a SIGABRT from the test engines that break on purpose
(``tests/support/fault_engines.py``), and a SIGKILL from outside — and check that the job ends ``failed`` with a plain message
after its attempts, that the server keeps answering, and that the next job runs. The thin
clip that segfaulted OpenCV's optical flow is refused at upload, and the flow is safe for
every size that passes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable

import av
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.settings import Settings
from app.web.main import create_app
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until
from tests.web.conftest import image_files, submit, wait_for

CRASH_SIZE = 72


def write_mp4(path: Path, width: int, height: int, frames: int = 10,
              pix_fmt: str = "yuv420p") -> Path:
    """A real H.264 clip of ``frames`` random frames."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        for _ in range(frames):
            rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")
                                  .reformat(format=pix_fmt)))
        out.mux(stream.encode(None))
    return path


def clip_files(path: Path) -> list:
    return [("content", ("clip.mp4", path.read_bytes(), "video/mp4")),
            *image_files()[1:]]


def test_a_segfault_in_a_job_fails_that_job_and_the_server_serves_on(
        server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(DREAMGEN_MAX_ATTEMPTS="2").start()
    files = [(n, (f, data, t)) for n, (f, data, t) in image_files()]
    crashing = httpx.post(f"{server.url}/api/jobs", files=files, timeout=60,
                          data={"engine": "test-segfault", "size": str(CRASH_SIZE)}).json()
    healthy = httpx.post(f"{server.url}/api/jobs", files=files, timeout=60,
                         data={"engine": "microast", "size": "64"}).json()

    def finished(job_id: str) -> dict | None:
        job = httpx.get(f"{server.url}/api/jobs/{job_id}", timeout=30).json()
        return job if job["state"] in ("succeeded", "failed", "cancelled") else None

    crashed = wait_until("the crashing job to end", lambda: finished(crashing["id"]), 180)
    assert crashed["state"] == "failed"
    assert crashed["error"].startswith("the engine crashed on this input (killed by SIGSEGV "
                                       "(segmentation fault), 2 times)")
    done = wait_until("the next job to end", lambda: finished(healthy["id"]), 180)
    assert done["state"] == "succeeded", done["error"]
    assert server.alive and httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
    log = server.log()
    assert log.count("killed by SIGSEGV") >= 2 and "re-queued (attempt 1 of 2)" in log


def test_an_abort_is_retried_then_reported(make_settings: Callable[..., Settings]) -> None:
    with TestClient(create_app(make_settings(max_attempts=3))) as client:
        job = submit(client, engine="test-abort", size=CRASH_SIZE).json()
        done = wait_for(client, job["id"], timeout_s=180)
        assert done["state"] == "failed"
        assert "the engine crashed on this input (killed by SIGABRT (aborted), 3 times)" \
            in done["error"]
        after = wait_for(client, submit(client).json()["id"])
        assert after["state"] == "succeeded", after["error"]


def test_a_hung_engine_is_killed_and_the_job_fails_with_a_reason(
        make_settings: Callable[..., Settings]) -> None:
    """An engine that neither answers nor exits (a deadlock in native code) would hold its
    worker for ever: after ``job_stall_seconds`` of silence it is killed like a crash."""
    with TestClient(create_app(make_settings(max_attempts=2, job_stall_seconds=3))) as client:
        job = submit(client, engine="test-hang", size=CRASH_SIZE).json()
        done = wait_for(client, job["id"], timeout_s=180)
        assert done["state"] == "failed"
        assert "the engine crashed on this input (stopped answering for 3 s, 2 times)" \
            in done["error"]
        worker = client.app.state.workers.workers[0]
        assert worker.is_alive() and worker.engine_process.pid is None   # the hung one is gone
        assert client.get("/healthz").json()["workers"]["alive"] == 1


def test_an_engine_process_killed_from_outside_puts_the_job_back(
        client: TestClient) -> None:
    """The kernel's out-of-memory killer sends SIGKILL: the job runs again on a new child."""
    job = submit(client, engine="gatys-lite", size=64, iterations=400).json()
    worker = client.app.state.workers.workers[0]
    wait_until("the first iterations", lambda: "iteration" in client.get(
        f"/api/jobs/{job['id']}").json()["message"], 120)
    pid = worker.engine_process.pid
    os.kill(pid, signal.SIGKILL)
    # The claim (attempts 2, running) is written before the worker starts the new child,
    # so wait for both rather than reading the pid in between.
    wait_until("the job to run again on a new engine process",
         lambda: (lambda row: row.attempts == 2 and row.state == "running")(
             _row(client, job["id"])) and worker.engine_process.pid not in (None, pid), 120)
    client.post(f"/api/jobs/{job['id']}/cancel")
    assert wait_for(client, job["id"], timeout_s=60)["state"] == "cancelled"


def _row(client: TestClient, job_id: str):  # type: ignore[no-untyped-def]
    from app.db.models import Job

    with client.app.state.session_factory() as session:
        return session.query(Job).filter_by(public_id=job_id).one()


@pytest.mark.parametrize(("width", "height"), [(64, 8), (400, 16)])
def test_the_thin_clip_is_refused_at_upload_naming_the_limit(
        paused_client: TestClient, tmp_path: Path, width: int, height: int) -> None:
    clip = write_mp4(tmp_path / "thin.mp4", width, height)
    response = submit(paused_client, clip_files(clip), size=64)
    assert response.status_code == 422
    assert "shorter side must be at least 16 px" in response.json()["detail"]
    assert paused_client.app.state.store.files() == set()


@pytest.mark.parametrize("kind", ["1x1 mp4", "2x2 gif"])
def test_clips_too_small_to_process_are_refused(paused_client: TestClient, tmp_path: Path,
                                                kind: str) -> None:
    if kind == "1x1 mp4":
        data = write_mp4(tmp_path / "dot.mp4", 1, 1, pix_fmt="yuv444p").read_bytes()
        files = clip_files(tmp_path / "dot.mp4")
    else:
        from PIL import Image

        frames = [Image.new("RGB", (2, 2), (i % 256, 0, 0)) for i in range(3000)]
        frames[0].save(tmp_path / "dots.gif", save_all=True, append_images=frames[1:],
                       duration=40)
        data = (tmp_path / "dots.gif").read_bytes()
        files = [("content", ("dots.gif", data, "image/gif")), *image_files()[1:]]
    response = submit(paused_client, files, size=512)
    assert response.status_code == 422, response.text
    assert "shorter side must be at least 16 px" in response.json()["detail"]


def test_a_small_clip_that_passes_is_made_with_the_padded_flow(client: TestClient,
                                                               tmp_path: Path) -> None:
    clip = write_mp4(tmp_path / "small.mp4", 128, 32)       # 64x16 at size 64: allowed
    created = submit(client, clip_files(clip), size=64)
    assert created.status_code == 201, created.text
    done = wait_for(client, created.json()["id"], timeout_s=180)
    assert done["state"] == "succeeded", done["error"]
    assert (done["width"], done["height"]) == (64, 16)


FLOW_SWEEP = """
import numpy as np
from app.video.flicker import temporal_instability
from app.video.flow import FlowTracker
rng = np.random.default_rng(1)
for short in range(1, 49):
    for long in (1, 8, 12, 16, 24, 48, 64, 100, 200, 320, 400, 1000, 1920):
        for h, w in ((short, long), (long, short)):
            tracker = FlowTracker(consistency=True)
            frames = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(3)]
            for frame in frames:
                tracker.step(frame)
            if min(h, w) >= 2:
                temporal_instability(frames, frames)
print("every size survived")
"""


def test_optical_flow_survives_every_frame_size() -> None:
    """OpenCV's DIS flow segfaulted on frames 8-28 px high; the tracker pads small frames.
    Run in a subprocess, so a crash fails this test instead of killing the test run."""
    result = subprocess.run([sys.executable, "-c", FLOW_SWEEP], capture_output=True,
                            text=True, timeout=600, cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-2000:]}"
    assert "every size survived" in result.stdout
