"""The admin page in a real browser: sign in with the token, download an engine's weights from
a slow local mirror while the progress bar moves, see the engine become ready and offered on
the create page; a wrong hash shows its reason. Screenshots go to tests/artifacts/browser/."""

from __future__ import annotations

import random
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from app.engine.weights.store import WEIGHT_FILES, WeightStore, file_sha256
from app.settings import Settings
from app.web.main import create_app
from tests.browser.conftest import ARTIFACTS, serving
from tests.weights.support import FileServer, Route, running_server

pytestmark = pytest.mark.browser

TOKEN = "a-long-admin-token-for-the-browser"
ENCODER, DECODER = "adain/vgg_normalised.pth", "adain/decoder.pth"
SLICE_BYTES, PAUSE_S = 256 * 1024, 0.12      # ~3.4 MB in about 1.5 s


class SlowHandler(BaseHTTPRequestHandler):
    """Serves a :class:`FileServer`'s routes a slice at a time, so a download takes a while."""

    server: FileServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.requests.append(self.path)
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(route.body)))
        self.end_headers()
        for start in range(0, len(route.body), SLICE_BYTES):
            self.wfile.write(route.body[start:start + SLICE_BYTES])
            self.wfile.flush()
            time.sleep(PAUSE_S)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def mirror() -> Iterator[FileServer]:
    """A slow mirror serving generated AdaIN checkpoints (a 3.4 MB encoder, a small decoder)."""
    with running_server() as server:
        server.RequestHandlerClass = SlowHandler
        server.routes[f"/{ENCODER}"] = Route(random.Random(1).randbytes(3_400_000))
        server.routes[f"/{DECODER}"] = Route(random.Random(2).randbytes(150_000))
        yield server


@pytest.fixture
def studio(tmp_path: Path, mirror: FileServer) -> Iterator[str]:
    """A dreamgen server with an admin token whose store trusts the mirror's files."""
    settings = Settings(data_dir=tmp_path / "data", weights_cache_dir=tmp_path / "cache",
                        weights_dir=None, offline=False, device="cpu", run_worker=False,
                        admin_token=TOKEN, min_free_disk_mb=1)
    served = {name: tmp_path / "served" / name.replace("/", "-") for name in (ENCODER, DECODER)}
    for name, path in served.items():
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(mirror.routes[f"/{name}"].body)
    pins = tuple(replace(f, sha256=file_sha256(served[f.name]), size=None)
                 if f.name in served else f for f in WEIGHT_FILES)
    store = replace(WeightStore.from_settings(settings), pins=pins, mirror=mirror.url)
    with serving(create_app(settings, weights=store)) as url:
        yield url


def snap(page: Page, name: str) -> None:
    """A full-page screenshot from the top (else the sticky header lands mid-page)."""
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=ARTIFACTS / name, full_page=True)


def sign_in(page: Page, base: str) -> None:
    page.goto(base + "/admin")
    expect(page.locator("#admin-refusal")).to_contain_text("Sign in with the admin token")
    page.fill("#admin-token", TOKEN)
    snap(page, "admin-sign-in.png")
    page.click("#sign-in")
    expect(page.locator("h1")).to_have_text("Model weights")


def watch_bar(page: Page, file: str, timeout_s: float = 60.0) -> list[tuple[str, float]]:
    """(download state, value/max) of ``file``'s progress bar until the engine is ready."""
    row = page.locator(f'tr[data-file="{file}"]').first
    seen: list[tuple[str, float]] = []
    deadline = time.monotonic() + timeout_s
    while page.locator('[data-engine="adain"]').get_attribute("data-ready") != "true":
        state, fraction = row.evaluate("r => [r.dataset.download, "
                                       "r.querySelector('progress').position]")
        if not seen or seen[-1] != (state, fraction):
            seen.append((state, fraction))
            if state == "running" and 0 < fraction < 1 and len(seen) <= 3:
                snap(page, "admin-downloading.png")
        if time.monotonic() > deadline:
            pytest.fail(f"the adain engine did not become ready; bar states: {seen}")
        time.sleep(0.03)
    return seen


def test_download_moves_the_bar_and_the_engine_becomes_ready(studio: str, browser: Browser,
                                                            mirror: FileServer) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, studio)
    assert "dreamgen_admin" not in page.evaluate("document.cookie")    # HttpOnly
    adain = page.locator('[data-engine="adain"]')
    expect(adain.locator('[data-role="ready"]')).to_have_text("Not ready")
    expect(page.locator('[data-engine="microast"] [data-role="ready"]')).to_have_text("Ready")
    snap(page, "admin-before.png")

    page.click("#download-adain")
    seen = watch_bar(page, ENCODER)
    moving = [f for state, f in seen if state == "running" and 0 < f < 1]
    assert moving, f"the bar never showed a partial download: {seen}"
    expect(adain.locator('[data-role="ready"]')).to_have_text("Ready")
    expect(adain.locator("#download-adain")).to_be_hidden()
    for name in (ENCODER, DECODER):
        row = adain.locator(f'tr[data-file="{name}"]')
        expect(row).to_have_attribute("data-state", "verified")
        expect(row.locator('[data-role="message"]')).to_have_text("downloaded and verified")
        assert row.locator("progress").evaluate("p => p.position") == 1
    expect(page.locator('[data-engine="gatys"]')).to_have_attribute("data-ready", "true")
    snap(page, "admin-done.png")
    assert sorted(mirror.requests) == [f"/{DECODER}", f"/{ENCODER}"]

    page.goto(studio + "/")
    expect(page.locator("option[value=adain]")).to_have_count(1)   # offered, no restart


def test_a_wrong_hash_shows_why_on_a_phone(studio: str, browser: Browser,
                                           mirror: FileServer) -> None:
    mirror.routes[f"/{DECODER}"] = Route(b"tampered" * 1000)
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    sign_in(page, studio)
    page.click("#download-adain")
    row = page.locator(f'tr[data-file="{DECODER}"]').first
    expect(row).to_have_attribute("data-download", "failed", timeout=60_000)
    expect(row.locator('[data-role="message"]')).to_contain_text("SHA-256")
    expect(row).to_have_attribute("data-state", "missing")
    expect(page.locator("#download-adain")).to_be_enabled()        # may be tried again
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the admin page scrolls sideways on a phone ({width} px)"
    snap(page, "admin-failed-phone.png")


@pytest.fixture
def studio_made_token(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A dreamgen server started with no admin token set: (its URL, the token it made)."""
    settings = Settings(data_dir=tmp_path / "data", weights_cache_dir=tmp_path / "cache",
                        weights_dir=None, offline=True, device="cpu", run_worker=False,
                        min_free_disk_mb=1)
    with serving(create_app(settings)) as url:
        yield url, (tmp_path / "data" / "admin-token").read_text().strip()


def test_the_printed_sign_in_link_signs_in_and_leaves_no_token_behind(
        studio_made_token: tuple[str, str], browser: Browser) -> None:
    url, token = studio_made_token
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url + "/admin")                     # on the server itself: no way in without it
    expect(page.locator("#admin-refusal")).to_contain_text("dreamgen admin token")
    snap(page, "admin-needs-token.png")

    page.goto("about:blank")                      # the link opened afresh, as from a terminal
    page.goto(f"{url}/admin#token={token}")
    expect(page.locator("h1")).to_have_text("Model weights")
    assert token not in page.url and token not in page.content()
    assert "dreamgen_admin" not in page.evaluate("document.cookie")    # HttpOnly
    page.go_back()
    assert token not in page.url                  # nor in the history
    page.goto("about:blank")
    page.goto(f"{url}/admin#token={token}")        # signed in already: only the fragment goes
    expect(page.locator("h1")).to_have_text("Model weights")
    assert not page.evaluate("location.hash")

    stranger = browser.new_page()
    stranger.goto(f"{url}/admin#token=not-{token}")
    expect(stranger.locator("#admin-refusal")).to_have_text("That admin token is wrong.")
    assert "token" not in stranger.url.split("/admin", 1)[1]
