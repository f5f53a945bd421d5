"""Several machines without loss, on SQLite (one data folder shared by the processes) and on
PostgreSQL: a web process with no workers and two worker processes share a database and a
media folder, with a 6 s lease (heartbeats every 2 s).

1. The worker running a job is SIGKILLed with everything it started (a machine gone for
   good): the other worker takes the job over once the lease has run out and finishes it.
2. The worker running a job is paused (SIGSTOP, as a frozen VM or a long partition) past its
   lease: the other takes the job over and finishes it; resumed, the first one's result
   arrives too late and is refused by the fencing token, it removes its files and says so.

Run: ``.venv/bin/python -m pytest -q tests/scaling/test_takeover.py -s`` (prints the
takeover times). The job (the test engine ``test-pause-write``) pauses in worker A's engine
child between writing its result to a temporary file and renaming it, so it is caught with a
half-written file.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from PIL import Image

from app.jobs.leases import heartbeat_interval_s
from tests.support.cluster import (
    LEASE_S,
    job_row,
    named_files,
    runs_on,
    submit_job,
    temp_files,
    worker_rows,
)
from tests.scaling.conftest import Cluster
from tests.support.fault_engines import PAUSE_ENV
from tests.support.server import REPO
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
TAKEOVER_LIMIT_S = LEASE_S + heartbeat_interval_s(LEASE_S) + 6.0   # + slack for 2 busy cores
PAUSE_S = 30.0             # the first worker's pause before the rename (caught in it)


def start_first_worker_with_a_job(cluster: Cluster):  # type: ignore[no-untyped-def]
    """The web process, worker A (which pauses before renaming results) running a job
    caught half-written, and worker B ready beside it."""
    web = cluster.web()
    first = cluster.worker("a", **{PAUSE_ENV: str(PAUSE_S)})
    first.wait_ready()
    job_id = submit_job(web, engine="test-pause-write")
    wait_until("worker A to claim the job", lambda: runs_on(cluster.db_engine, job_id, first), 120)
    second = cluster.worker("b")
    second.wait_ready()
    wait_until("worker B's heartbeat", lambda: any(f"-{second.pid}-" in w
                                             for w in worker_rows(cluster.db_engine)), 60)
    wait_until("A's half-written result", lambda: temp_files(cluster.media), 120)
    assert runs_on(cluster.db_engine, job_id, first), "A finished before it could be caught"
    return web, first, second, job_id


def finished_by(cluster: Cluster, job_id: str, worker) -> dict:  # type: ignore[no-untyped-def]
    row = wait_until("the job to finish", lambda: (lambda r: r if r["state"] in (
        "succeeded", "failed", "cancelled") else None)(job_row(cluster.db_engine, job_id)), 180)
    assert row["state"] == "succeeded", row
    assert f"-{worker.pid}-w" in row["worker_id"] and row["attempts"] == 2
    with Image.open(cluster.media / row["result_path"]) as result:
        result.load()                                  # complete, not half-written
        assert max(result.size) == 64
    return row


def takeover_seconds(cluster: Cluster, job_id: str, second, since: float) -> float:  # type: ignore[no-untyped-def]
    wait_until("worker B to take the job over",
         lambda: runs_on(cluster.db_engine, job_id, second)
         or job_row(cluster.db_engine, job_id)["state"] == "succeeded", 120)
    return time.monotonic() - since


def test_a_killed_workers_job_is_finished_by_another(cluster: Cluster) -> None:
    web, first, second, job_id = start_first_worker_with_a_job(cluster)
    killed_at = time.monotonic()
    first.kill()
    took = takeover_seconds(cluster, job_id, second, killed_at)
    print(f"\n{cluster.url.split(':')[0]}: taken over {took:.1f} s after the kill "
          f"(lease {LEASE_S:.0f} s, heartbeat every {heartbeat_interval_s(LEASE_S):.0f} s)")
    assert took < TAKEOVER_LIMIT_S
    finished_by(cluster, job_id, second)
    assert "stopped answering" in second.log()
    listing = subprocess.run([sys.executable, "-m", "app.cli", "workers"], cwd=REPO,
                             env={**second.env}, capture_output=True, text=True, timeout=60)
    lines = {line.split()[0]: line for line in listing.stdout.splitlines()[1:]}
    assert lines[f"{_host()}-{first.pid}-w0"].endswith("stale"), listing.stdout
    assert lines[f"{_host()}-{second.pid}-w0"].endswith("alive"), listing.stdout
    assert second.stop() == 0                          # a clean stop deletes its row
    assert set(worker_rows(cluster.db_engine)) == {f"{_host()}-{first.pid}-w0"}


def test_a_paused_worker_past_its_lease_cannot_write_its_late_result(cluster: Cluster) -> None:
    web, first, second, job_id = start_first_worker_with_a_job(cluster)
    caught = temp_files(cluster.media)
    paused_at = time.monotonic()
    first.signal_group(signal.SIGSTOP)
    took = takeover_seconds(cluster, job_id, second, paused_at)
    print(f"\n{cluster.url.split(':')[0]}: taken over {took:.1f} s after the pause")
    assert took < TAKEOVER_LIMIT_S
    done = finished_by(cluster, job_id, second)
    # A's pause before the rename ends while it is stopped: resumed, it renames at once and
    # reports its result, or is stopped first; either way nothing of it may survive
    time.sleep(max(0.0, paused_at + PAUSE_S + 1 - time.monotonic()))
    first.signal_group(signal.SIGCONT)
    wait_until("A to drop its late result", lambda: "result dropped" in first.log(), 60)
    after = job_row(cluster.db_engine, job_id)
    assert (after["state"], after["result_path"], after["worker_id"], after["finished_at"]) == (
        "succeeded", done["result_path"], done["worker_id"], done["finished_at"])
    assert not any(path.exists() for path in caught)    # A's half-written file is gone
    assert temp_files(cluster.media) == []
    on_disk = {p.relative_to(cluster.media).as_posix()
               for p in cluster.media.rglob("*") if p.is_file()}
    assert on_disk == named_files(cluster.db_engine)     # and nothing A wrote is left
    wait_until("A to heartbeat again", lambda: any(
        f"-{first.pid}-" in w for w in worker_rows(cluster.db_engine)), 30)
    assert first.process.poll() is None                  # A lives on, ready for more work


def _host() -> str:
    import socket

    return socket.gethostname()
