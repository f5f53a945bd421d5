"""`dreamgen worker`: a worker process with no web server takes jobs from the shared queue."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

from PIL import Image

from app.db.engine import make_db_engine, make_session_factory, upgrade_to_head
from app.db.models import FINISHED_STATES, JobState
from app.jobs import queue
from app.storage import MediaStore
from tests.support.waiting import wait_until
from tests.weights.support import shared_dir

DEADLINE_S = 120


def _png(path: Path) -> bytes:
    buffer = io.BytesIO()
    Image.open(path).convert("RGB").resize((64, 64)).save(buffer, "PNG")
    return buffer.getvalue()


def test_worker_process_runs_queued_jobs_and_stops_on_sigterm(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "DREAMGEN_DATA_DIR": str(data),
           "DREAMGEN_WEIGHTS_DIR": str(shared_dir("weights")),
           "DREAMGEN_WEIGHTS_CACHE_DIR": str(tmp_path / "cache"), "DREAMGEN_DEVICE": "cpu"}
    url = f"sqlite:///{(data / 'dreamgen.db').as_posix()}"
    upgrade_to_head(url)
    store = MediaStore(data / "media")
    media = shared_dir("media")
    engine = make_db_engine(url)
    with make_session_factory(engine)() as session:
        jobs = [queue.enqueue_job(session, owner_id="o", kind="image", engine="microast",
                                  options={"alpha": 1.0, "max_side": 64},
                                  content_path=store.save_upload(_png(media / "chelsea.png"), ".png"),
                                  style_paths=[store.save_upload(_png(media / "ihc.png"), ".png")])
                for _ in range(2)]

    process = subprocess.Popen([str(Path(sys.executable).parent / "dreamgen"), "worker"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def states() -> list[str]:
            with make_session_factory(engine)() as session:
                return [queue.get_job(session, j.public_id).state for j in jobs]

        wait_until("both jobs to end (or the worker to exit)", lambda: all(
            state in FINISHED_STATES for state in states()) or process.poll() is not None,
            DEADLINE_S, every_s=0.2)
        assert states() == [JobState.SUCCEEDED] * 2, states()
        with make_session_factory(engine)() as session:
            done = [queue.get_job(session, j.public_id) for j in jobs]
        for job in done:
            result = Image.open(store.path(job.result_path))
            assert result.size == (job.width, job.height) and max(result.size) == 64
            assert job.worker_id and f"-{process.pid}-" in job.worker_id
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
        engine.dispose()
    assert process.returncode == 0, output
    assert "worker(s) running" in output
