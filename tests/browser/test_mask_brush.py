"""The mask brush on the create page in real chromium: strokes by mouse and by touch
(Chromium's own touch input through the DevTools protocol, so the page gets real touch
pointer events), undo, erase, invert, clear, and a Generate that sends the mask: the job
records it and its result keeps the unpainted part of the photo. Screenshots go to
tests/artifacts/browser/."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ARTIFACTS
from tests.support.shared import shared_dir
from tests.support.waiting import wait_until

pytestmark = pytest.mark.browser
DESKTOP = {"width": 1280, "height": 900}


def copy_media(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes((shared_dir("media") / name).read_bytes())
    return path


def painted_at(page: Page, fx: float, fy: float) -> int:
    """The mask canvas's alpha at (fx, fy), fractions of its width and height."""
    return page.evaluate("""([fx, fy]) => {
        const c = document.getElementById('mask-canvas');
        return c.getContext('2d').getImageData(Math.floor(fx * c.width),
                                               Math.floor(fy * c.height), 1, 1).data[3];
    }""", [fx, fy])


def point(page: Page, fx: float, fy: float) -> tuple[float, float]:
    box = page.locator("#mask-canvas").bounding_box()
    assert box is not None
    return box["x"] + fx * box["width"], box["y"] + fy * box["height"]


def mouse_stroke(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*point(page, *start))
    page.mouse.down()
    page.mouse.move(*point(page, *end), steps=12)
    page.mouse.up()


def touch_stroke(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A finger drawn across the canvas: touchStart, moves, touchEnd."""
    cdp = page.context.new_cdp_session(page)
    (x0, y0), (x1, y1) = point(page, *start), point(page, *end)
    cdp.send("Input.dispatchTouchEvent",
             {"type": "touchStart", "touchPoints": [{"x": x0, "y": y0, "id": 1}]})
    for i in range(1, 13):
        x, y = x0 + (x1 - x0) * i / 12, y0 + (y1 - y0) * i / 12
        cdp.send("Input.dispatchTouchEvent",
                 {"type": "touchMove", "touchPoints": [{"x": x, "y": y, "id": 1}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def test_brush_a_mask_by_mouse_and_touch_and_submit_it(server: str, browser: Browser,
                                                        tmp_path: Path) -> None:
    page = browser.new_page(viewport=DESKTOP, has_touch=True)
    page.goto(server + "/")
    expect(page.locator("#mask-tools")).to_be_hidden()
    page.set_input_files("#content", str(copy_media(tmp_path, "astronaut.png")))
    page.set_input_files("#style", str(copy_media(tmp_path, "brick.png")))
    expect(page.locator("#mask-tools")).to_be_visible()
    page.locator("#mask-canvas").scroll_into_view_if_needed()
    expect(page.locator("#mask-tools")).to_have_attribute("data-painted", "no")

    # mouse: a stroke down the left side paints there and nowhere near the right
    mouse_stroke(page, (0.15, 0.1), (0.15, 0.9))
    expect(page.locator("#mask-tools")).to_have_attribute("data-painted", "yes")
    assert painted_at(page, 0.15, 0.5) > 0 and painted_at(page, 0.85, 0.5) == 0
    page.click("#mask-undo")
    expect(page.locator("#mask-tools")).to_have_attribute("data-painted", "no")

    # touch: a finger's stroke paints as the mouse does
    touch_stroke(page, (0.3, 0.1), (0.3, 0.9))
    expect(page.locator("#mask-tools")).to_have_attribute("data-painted", "yes")
    assert painted_at(page, 0.3, 0.5) > 0 and painted_at(page, 0.85, 0.5) == 0

    # erase takes paint away; invert swaps painted and not; clear empties it
    page.click("#mask-erase")
    expect(page.locator("#mask-erase")).to_have_attribute("aria-pressed", "true")
    mouse_stroke(page, (0.3, 0.45), (0.3, 0.55))
    assert painted_at(page, 0.3, 0.5) == 0 and painted_at(page, 0.3, 0.2) > 0
    page.click("#mask-erase")
    page.click("#mask-invert")
    assert painted_at(page, 0.85, 0.5) > 0 and painted_at(page, 0.3, 0.2) == 0
    page.click("#mask-clear")
    expect(page.locator("#mask-tools")).to_have_attribute("data-painted", "no")

    # the mask to send: the left half, by mouse strokes and a touch stroke
    page.fill("#mask-size", "30")
    for fx in (0.05, 0.2):
        mouse_stroke(page, (fx, 0.0), (fx, 1.0))
    touch_stroke(page, (0.35, 0.0), (0.35, 1.0))
    page.screenshot(path=ARTIFACTS / "create-mask-brushed.png", full_page=True)
    page.check("#preset-fast")
    if not page.locator("#more-settings").evaluate("d => d.open"):
        page.click("#more-settings > summary")
    page.select_option("#size", "256")
    page.click("#generate")
    page.wait_for_url(re.compile(r"/jobs/[\w-]+$"), timeout=60_000)
    job_id = page.url.rsplit("/", 1)[1]

    def finished() -> dict | None:
        job = page.request.get(f"{server}/api/jobs/{job_id}").json()
        return job if job["state"] in ("succeeded", "failed", "cancelled") else None

    job = wait_until("the masked job to finish", finished, 240)
    assert job["state"] == "succeeded", job["error"]
    assert job["options"]["mask"]["rest"] == "the photo"
    result = np.asarray(Image.open(io.BytesIO(
        page.request.get(server + job["links"]["result"]).body())).convert("RGB"), np.float32)
    photo = Image.open(shared_dir("media") / "astronaut.png").convert("RGB").resize(
        (result.shape[1], result.shape[0]), Image.Resampling.LANCZOS)
    diff = np.abs(result - np.asarray(photo, np.float32)).mean(axis=2)
    width = result.shape[1]
    assert diff[:, int(0.75 * width):].mean() <= 3.0        # unpainted: the photo
    assert diff[:, :int(0.2 * width)].mean() >= 12.0        # painted: styled
    page.goto(f"{server}/jobs/{job_id}")
    expect(page.locator("#mask-used")).to_contain_text("brushed mask")
    page.screenshot(path=ARTIFACTS / "result-masked.png", full_page=True)
