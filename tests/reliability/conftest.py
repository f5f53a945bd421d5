"""Fixtures for the reliability tests: the in-process app of tests/web, a real server in a
subprocess, and AdaIN checkpoints the weights registry accepts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.web.conftest import client, make_settings, paused_client  # noqa: F401 (fixtures)

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """``uvicorn app.web.main:create_app`` in a subprocess on a free port, with its log in a
    file; killed with SIGKILL (a power cut) or stopped with SIGTERM."""

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
        self.port = free_port()
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== start on port {self.port} {env}\n".encode())
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "app.web.main:create_app", "--factory",
                 "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "info"],
                cwd=REPO, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/api/engines", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        pytest.fail(f"the server did not answer in {timeout_s} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, exactly like a power cut for the process."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def server_factory(tmp_path: Path, shared_weights: Path) -> Iterator[type]:
    """Build :class:`ServerProcess` objects on ``tmp_path/data``; all stopped afterwards."""
    started: list[ServerProcess] = []

    def build(**env: str) -> ServerProcess:
        server = ServerProcess(tmp_path / "data", shared_weights, **env)
        started.append(server)
        return server
    yield build
    for server in started:
        server.kill()


@pytest.fixture
def adain_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                  shared_weights: Path) -> Iterator[dict[str, Path]]:
    """Seeded AdaIN checkpoints in the weights cache folder, with the registry entries' pinned
    SHA-256 and size swapped for the generated files' (loading and verification still run)."""
    from app.engine import weights
    from app.settings import get_settings
    from tests.checkpoints import write_adain_checkpoints

    cache = tmp_path / "weights-cache"
    paths = write_adain_checkpoints(cache)
    for name, path in paths.items():
        entry = replace(weights.REGISTRY[name], sha256=weights.file_sha256(path),
                        size=path.stat().st_size)
        monkeypatch.setitem(weights.REGISTRY, name, entry)
    monkeypatch.setenv("DREAMGEN_WEIGHTS_CACHE_DIR", str(cache))
    get_settings.cache_clear()
    yield paths
    get_settings.cache_clear()
