"""The real dreamgen server in a subprocess, started the README's way (``dreamgen serve``,
here ``python -m app.cli serve``) on a free port, for the crash and load tests and
bench/load.py."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
FINISHED = ("succeeded", "failed", "cancelled")


class ServerError(RuntimeError):
    """The server did not start, or exited; the message carries its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """``dreamgen serve`` in a subprocess on a free port, with its log in a file; killed with
    SIGKILL (a power cut) or stopped with SIGTERM."""

    def __init__(self, data_dir: Path, weights_dir: Path, **env: str) -> None:
        self.data_dir, self.log_path = data_dir, data_dir.parent / "server.log"
        self.env = {**os.environ, "DREAMGEN_DATA_DIR": str(data_dir),
                    "DREAMGEN_WEIGHTS_DIR": str(weights_dir),
                    "DREAMGEN_WEIGHTS_CACHE_DIR": str(data_dir.parent / "cache"),
                    "DREAMGEN_DEVICE": "cpu", "DREAMGEN_WORKERS": "1",
                    "DREAMGEN_MIN_FREE_DISK_MB": "1", "DREAMGEN_RATE_LIMIT_PER_MINUTE": "0",
                    "PYTHONUNBUFFERED": "1", **env}
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 90.0, **env: str) -> "ServerProcess":
        """Start on a free port and wait until it answers (a port some other process took
        meanwhile is retried on another)."""
        for _ in range(3):
            if self._start_once(timeout_s, env):
                return self
        raise ServerError(f"no free port could be bound:\n{self.log()}")

    def _start_once(self, timeout_s: float, env: dict[str, str]) -> bool:
        self.port = free_port()
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== start on port {self.port} {env}\n".encode())
            begin = log.tell()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1",
                 "--port", str(self.port)],
                cwd=REPO, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT)
        running = f"Uvicorn running on {self.url}"     # ours, not another server's port
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if "address already in use" in self.log()[begin:]:
                    return False
                raise ServerError(f"the server exited with {self.process.returncode}:\n"
                                  f"{self.log()}")
            try:
                if running in self.log()[begin:] and \
                        httpx.get(f"{self.url}/api/engines", timeout=2).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise ServerError(f"the server did not answer in {timeout_s} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, exactly like a power cut for the process."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self, timeout_s: float = 60.0) -> float:
        """SIGTERM, then wait; returns the seconds it took to exit (SIGKILL after
        ``timeout_s``)."""
        started = time.monotonic()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        return time.monotonic() - started

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def db_rows(data_dir: Path) -> list[sqlite3.Row]:
    """Every job row, in creation order, read straight from the SQLite file."""
    with sqlite3.connect(data_dir / "dreamgen.db") as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM jobs ORDER BY id").fetchall()


def integrity(data_dir: Path) -> str:
    """``PRAGMA integrity_check`` of the database ("ok" when sound)."""
    with sqlite3.connect(data_dir / "dreamgen.db") as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
