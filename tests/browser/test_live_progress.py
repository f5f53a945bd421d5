"""The job page when the server refuses its live progress stream (an address at its limit of
streams): the page polls instead and still follows the job to its end."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from app.settings import Settings
from app.web.main import create_app
from tests.browser.conftest import serving
from tests.web.conftest import image_files

pytestmark = pytest.mark.browser


def test_a_refused_stream_falls_back_to_polling(browser: Browser, tmp_path: Path,
                                                shared_weights: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", weights_dir=shared_weights, device="cpu",
                        min_free_disk_mb=1, run_worker=False, max_event_streams_per_client=1)
    with serving(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as owner:
        job = owner.post("/api/jobs", files=image_files(),
                         data={"engine": "microast", "size": "64"}).json()
        with owner.stream("GET", f"/api/jobs/{job['id']}/events") as held:   # the one place
            assert held.status_code == 200
            page = browser.new_page()
            with page.expect_response(lambda r: r.url.endswith("/events")) as stream:
                page.goto(f"{url}/jobs/{job['id']}")
            assert stream.value.status == 429
            expect(page.locator("#job")).to_have_attribute("data-state", "queued")
            assert owner.post(f"/api/jobs/{job['id']}/cancel").status_code == 200
            expect(page.locator("#job")).to_have_attribute("data-state", "cancelled",
                                                           timeout=60_000)   # by polling
            expect(page.locator("#job-title")).to_have_text("Cancelled")
