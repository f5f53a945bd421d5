"""A real uvicorn server on a free port and Debian's chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path
from typing import Iterator

import pytest
import uvicorn

from app.settings import Settings
from app.web.main import create_app
from tests.support.waiting import wait_until

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "browser"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(app: object) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread; yield its base URL (stopped on leaving)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until("the dreamgen server to start",
               lambda: server.started or not thread.is_alive(), 30)
    assert server.started, "the dreamgen server stopped while starting"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture
def server(tmp_path: Path, shared_weights: Path) -> Iterator[str]:
    """Base URL of a dreamgen server running in a thread (stopped after the test)."""
    settings = Settings(data_dir=tmp_path / "data", weights_dir=shared_weights, device="cpu",
                        workers=1, min_free_disk_mb=1)
    with serving(create_app(settings)) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium "
                    "(apt-get install -y chromium); never `playwright install`")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        checked = PolicyCheckedBrowser(instance)
        yield checked
        instance.close()
    assert not checked.violations, f"the pages broke their own CSP: {checked.violations}"


class PolicyCheckedBrowser:
    """The browser, with every page it opens reporting Content-Security-Policy violations
    (so a page that needs an inline script or a foreign style fails its test)."""

    def __init__(self, browser: object) -> None:
        self._browser = browser
        self.violations: list[str] = []

    def new_page(self, **kwargs: object) -> object:
        page = self._browser.new_page(**kwargs)
        page.on("console", lambda message: self.violations.append(message.text)
                if "Content Security Policy" in message.text else None)
        return page

    def __getattr__(self, name: str) -> object:
        return getattr(self._browser, name)
