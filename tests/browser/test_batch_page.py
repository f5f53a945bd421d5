"""Batches in a real browser: several photos dropped on the create page (and a ZIP chosen)
reach the batch page, which follows each photo live to its result, lists the files it could
not use, and offers the ZIP of the results. Screenshots go to tests/artifacts/browser/."""

from __future__ import annotations

import base64
import re
import zipfile
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from app.settings import Settings
from app.web.main import create_app
from tests.browser.conftest import ARTIFACTS, serving
from tests.support.images import png_bytes

pytestmark = pytest.mark.browser
LONG = 240_000          # ms: the machine's two cores are shared
DROP = """([files, target]) => {
  const data = new DataTransfer();
  for (const [name, b64] of files) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    data.items.add(new File([bytes], name, { type: "image/png" }));
  }
  const drop = document.querySelector(target);
  drop.dispatchEvent(new DragEvent("dragover", { dataTransfer: data, bubbles: true, cancelable: true }));
  drop.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
}"""


@pytest.fixture
def studio(tmp_path: Path, shared_weights: Path) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path / "data", weights_dir=shared_weights, device="cpu",
                        workers=1, min_free_disk_mb=1, rate_limit_per_minute=0)
    with serving(create_app(settings)) as url:
        yield url


def start(browser: Browser, studio: str, tmp_path: Path) -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, reduced_motion="reduce")
    page.goto(studio)
    page.check("#preset-fast")
    style = tmp_path / "style.png"
    style.write_bytes(png_bytes(size=(128, 128), seed=3))
    page.set_input_files("#style", str(style))
    return page


def finish_on_batch_page(page: Page, photos: int) -> None:
    page.wait_for_url(re.compile(r"/batches/[\w-]+$"), timeout=60_000)
    expect(page.locator("#batch-title")).to_have_text("Your batch is done", timeout=LONG)
    expect(page.locator(".batch-photo[data-state=succeeded]")).to_have_count(photos)
    expect(page.locator("#batch-summary")).to_have_text(f"{photos} of {photos} photos done.")
    expect(page.locator(".batch-photo img:not(.waiting)")).to_have_count(photos)
    expect(page.locator("#download")).to_be_visible()
    expect(page.locator("#retry-form")).to_be_hidden()
    expect(page.locator("#batch-progress")).to_have_attribute("aria-valuenow", "100")


def test_photos_dropped_on_the_create_page_reach_the_batch_page_with_results(
        studio: str, browser: Browser, tmp_path: Path) -> None:
    page = start(browser, studio, tmp_path)
    files = [[f"beach {i}.png", base64.b64encode(png_bytes(size=(160, 120), seed=20 + i))
              .decode()] for i in range(3)]
    page.evaluate(DROP, [files, "#content-drop"])
    expect(page.locator("#batch-note")).to_contain_text("3 photos")
    expect(page.locator(".batch-preview")).to_have_count(3)
    page.click("#generate")
    finish_on_batch_page(page, 3)
    names = page.locator(".batch-name").all_text_contents()
    assert sorted(names) == ["beach 0.png", "beach 1.png", "beach 2.png"]
    with page.expect_download() as download:
        page.click("#download")
    with zipfile.ZipFile(download.value.path()) as results:
        assert sorted(results.namelist()) == ["beach 0.png", "beach 1.png", "beach 2.png"]
    page.screenshot(path=str(ARTIFACTS / "batch-page.png"), full_page=True)


def test_a_zip_with_a_damaged_photo_lists_what_was_not_used(
        studio: str, browser: Browser, tmp_path: Path) -> None:
    page = start(browser, studio, tmp_path)
    archive = tmp_path / "trip.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for i in range(2):
            zipped.writestr(f"trip/{i}.png", png_bytes(size=(160, 120), seed=30 + i))
        zipped.writestr("trip/broken.png", png_bytes(seed=9)[:90])
    page.set_input_files("#content", str(archive))
    expect(page.locator("#batch-note")).to_contain_text("every photo in this ZIP")
    page.click("#generate")
    finish_on_batch_page(page, 2)
    expect(page.locator("#refused")).to_contain_text("broken.png")
    expect(page.locator("#refused")).to_contain_text("damaged")
    page.screenshot(path=str(ARTIFACTS / "batch-page-zip.png"), full_page=True)
