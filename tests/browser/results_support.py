"""What the My results browser tests share: a studio with an admin token (so the browsers
are visitors, not admins, unless they sign in), short clip segments, browser contexts whose
pages report CSP violations, and jobs made through the page's own cookie."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from fastapi import FastAPI
from playwright.sync_api import BrowserContext, Page

from app.settings import Settings
from app.web.main import create_app
from tests.browser.conftest import ARTIFACTS, PolicyCheckedBrowser, serving
from tests.support.shared import shared_dir
from tests.support.waiting import wait_until

TOKEN = "browser-admin-token-for-tests"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class Studio:
    url: str
    app: FastAPI


@pytest.fixture
def studio(tmp_path: Path, shared_weights: Path) -> Iterator[Studio]:
    settings = Settings(data_dir=tmp_path / "data", weights_dir=shared_weights, device="cpu",
                        workers=1, min_free_disk_mb=1, admin_token=TOKEN,
                        video_segment_seconds=0.5, rate_limit_per_minute=0)
    app = create_app(settings)
    with serving(app) as url:
        yield Studio(url, app)


def new_browser(browser: PolicyCheckedBrowser, phone: bool = False,
                **options: Any) -> tuple[BrowserContext, Page]:
    """A fresh browser (own cookies), whose pages report CSP violations like
    :class:`PolicyCheckedBrowser`'s."""
    size = PHONE if phone else DESKTOP
    context = browser.new_context(viewport=size, device_scale_factor=2 if phone else 1,
                                  **options)
    context.on("console", lambda m: browser.violations.append(m.text)
               if "Content Security Policy" in m.text else None)
    page = context.new_page()
    page.on("console", lambda m: browser.violations.append(m.text)
            if "Content Security Policy" in m.text else None)
    return context, page


def photo(name: str = "chelsea.png") -> bytes:
    return (shared_dir("media") / name).read_bytes()


def make_job(page: Page, studio: Studio, content_name: str = "Chelsea the cat.png",
             **form: str) -> dict[str, Any]:
    """Queue a job as this page's browser (its owner cookie)."""
    if not page.url.startswith(studio.url):
        page.goto(studio.url + "/me")           # the owner cookie first
    multipart: dict[str, Any] = {
        "content": {"name": content_name, "mimeType": "image/png", "buffer": photo()},
        "style": {"name": "Brick wall.png", "mimeType": "image/png",
                  "buffer": photo("brick.png")},
        "engine": "microast", "size": "256", **form}
    created = page.request.post(studio.url + "/api/jobs", multipart=multipart)
    assert created.status == 201, created.text()
    return created.json()


def wait_state(page: Page, studio: Studio, job_id: str, states: tuple[str, ...],
               timeout_s: float = 240.0) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        job = page.request.get(f"{studio.url}/api/jobs/{job_id}").json()
        return job if job["state"] in states else None

    return wait_until(f"job {job_id} to reach {states}", reached, timeout_s, every_s=0.2)


def shot(page: Page, name: str) -> None:
    page.screenshot(path=ARTIFACTS / name, full_page=True)


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size["width"]
    assert width <= viewport, f"{page.url} scrolls sideways ({width} px > {viewport} px)"

