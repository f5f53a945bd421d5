"""Test support for weights and CLI tests: the shared weights folder, an isolated settings
environment, and a local HTTP server that can serve files whole, cut short, or not at all."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from app.engine.weights.store import clear_hash_cache
from app.settings import get_settings
from tests.support.shared import shared_dir  # noqa: F401 (re-exported for these tests)

REPO_ROOT = Path(__file__).resolve().parents[2]

WEIGHT_ENV_VARS = ("DREAMGEN_WEIGHTS_DIR", "DREAMGEN_WEIGHTS_CACHE_DIR", "DREAMGEN_OFFLINE",
                   "DREAMGEN_WEIGHTS_MIRROR")


def isolate_weights(monkeypatch: pytest.MonkeyPatch, cache: Path,
                    weights_dir: Path | None = None) -> None:
    """Point the weights cache at ``cache`` (never the real ~/.cache) and forget cached
    settings and hashes."""
    for var in WEIGHT_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DREAMGEN_WEIGHTS_CACHE_DIR", str(cache))
    if weights_dir is not None:
        monkeypatch.setenv("DREAMGEN_WEIGHTS_DIR", str(weights_dir))
    get_settings.cache_clear()
    clear_hash_cache()


def set_env(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    """Set a ``DREAMGEN_*`` variable and make the settings re-read it."""
    monkeypatch.setenv(name, value)
    get_settings.cache_clear()


@dataclass
class Route:
    """What the server answers for one path: ``body`` announced in Content-Length, of which
    only ``send`` bytes are sent (None: all); ``hang`` waits until the server stops."""

    body: bytes
    send: int | None = None
    hang: bool = False


class _Handler(BaseHTTPRequestHandler):
    server: "FileServer"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.requests.append(self.path)
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404, "Not Found")
            return
        if route.hang:
            self.server.stopping.wait(30)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(route.body)))
        self.end_headers()
        self.wfile.write(route.body[:route.send])  # then the connection closes (HTTP/1.0)

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass


class FileServer(ThreadingHTTPServer):
    """A threaded HTTP server on 127.0.0.1 and a free port, serving :class:`Route` s."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        self.stopping = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def serve_folder(self, folder: Path, prefix: str = "") -> None:
        """Serve every file under ``folder`` at ``/<prefix><relative path>``."""
        for path in folder.rglob("*"):
            if path.is_file():
                self.routes[f"/{prefix}{path.relative_to(folder).as_posix()}"] = \
                    Route(path.read_bytes())


@contextlib.contextmanager
def running_server() -> Iterator[FileServer]:
    """A :class:`FileServer` running in a thread for the duration of the block."""
    server = FileServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def leftovers(folder: Path) -> list[Path]:
    """Every file under ``folder`` (to prove a failed download kept nothing)."""
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []
