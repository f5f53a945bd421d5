"""Several dreamgen processes on one database, for the takeover tests: a web process with no
workers (``python -m app.cli serve``, DREAMGEN_RUN_WORKER=false) and worker processes
(``python -m app.cli worker``), each in its own process group so a test can kill, pause and
resume a whole "machine" (the worker, its fork server and its engine child) at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, text

from tests.support.images import png_bytes
from tests.support.server import REPO, ServerProcess
from tests.support.waiting import wait_until

LEASE_S = 6.0


def cluster_env(data_dir: Path, database_url: str, weights_dir: Path) -> dict[str, str]:
    """What every process of the cluster shares: the database, the media folder, a short
    lease, one worker thread on the CPU, one torch thread (two shared cores)."""
    env = {"DREAMGEN_DATA_DIR": str(data_dir), "DREAMGEN_WEIGHTS_DIR": str(weights_dir),
           "DREAMGEN_WEIGHTS_CACHE_DIR": str(data_dir.parent / "cache"),
           "DREAMGEN_DEVICE": "cpu", "DREAMGEN_WORKERS": "1",
           "DREAMGEN_LEASE_SECONDS": str(LEASE_S), "DREAMGEN_MIN_FREE_DISK_MB": "1",
           "DREAMGEN_RATE_LIMIT_PER_MINUTE": "0", "OMP_NUM_THREADS": "1",
           "PYTHONUNBUFFERED": "1"}
    if database_url:
        env["DREAMGEN_DATABASE_URL"] = database_url
    return env


class WorkerProcess:
    """``python -m app.cli worker`` in its own process group, its log in a file."""

    def __init__(self, name: str, folder: Path, env: dict[str, str]) -> None:
        self.name, self.log_path = name, folder / f"worker-{name}.log"
        self.env = {**os.environ, **env}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "WorkerProcess":
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"],
                                            cwd=REPO, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        wait_until(f"worker {self.name} to start", lambda: "worker(s) running" in self.log()
             or self._exited(), timeout_s)
        assert self.process is not None and self.process.poll() is None, self.log()

    def _exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def signal_group(self, signum: int) -> None:
        """Send ``signum`` to the worker and every process it started."""
        os.killpg(self.pid, signum)

    def kill(self) -> None:
        """SIGKILL the whole group (the machine is gone), then reap the worker."""
        if self.process is not None and self.process.poll() is None:
            self.signal_group(signal.SIGCONT)       # a stopped process cannot be reaped
            self.signal_group(signal.SIGKILL)
            self.process.wait(30)

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM (a clean stop); returns the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout_s)
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def web_process(data_dir: Path, weights_dir: Path, env: dict[str, str]) -> ServerProcess:
    """The web process, workers off."""
    return ServerProcess(data_dir, weights_dir, **env, DREAMGEN_RUN_WORKER="false").start()


def submit_job(web: ServerProcess, **form: str) -> str:
    """A 64 px MicroAST job through the HTTP API; returns its public id."""
    files = [("content", ("c.png", png_bytes(seed=1), "image/png")),
             ("style", ("s.png", png_bytes(seed=3), "image/png"))]
    response = httpx.post(f"{web.url}/api/jobs", files=files,
                          data={"engine": "microast", "size": "64", **form}, timeout=60)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def job_row(db_engine: Engine, public_id: str) -> dict[str, Any]:
    """The job's row, read straight from the shared database."""
    with db_engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM jobs WHERE public_id = :p"),
                           {"p": public_id}).mappings().one()
    return dict(row)


def worker_rows(db_engine: Engine) -> dict[str, dict[str, Any]]:
    with db_engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM workers")).mappings().all()
    return {row["id"]: dict(row) for row in rows}


def runs_on(db_engine: Engine, public_id: str, worker: WorkerProcess) -> bool:
    """Whether the job is running under one of ``worker``'s ids."""
    row = job_row(db_engine, public_id)
    return row["state"] == "running" and f"-{worker.pid}-w" in (row["worker_id"] or "")


def temp_files(media: Path) -> list[Path]:
    """Half-written files (``.tmp-…``) anywhere in the media folder."""
    return [p for p in media.rglob(".tmp-*") if p.is_file()]


def named_files(db_engine: Engine) -> set[str]:
    """Every media path a row names: each job's files (a strength preview's state included)
    and the style library's own copies and thumbnails."""
    import json

    with db_engine.connect() as conn:
        rows = conn.execute(text("SELECT content_path, style_paths, result_path, thumb_path, "
                                 "preview_path, partial_path, strength_path FROM jobs")).all()
        library = conn.execute(text("SELECT path, thumb_path FROM styles")).all()
    named: set[str] = set()
    for content, styles, *outputs in rows:
        styles = json.loads(styles) if isinstance(styles, str) else styles
        named.update(p for p in (content, *(styles or []), *outputs) if p)
    named.update(p for row in library for p in row if p)
    return named
