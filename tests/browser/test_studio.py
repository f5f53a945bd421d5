"""The studio in a real browser: create, watch progress, see the result, share, gallery."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import ARTIFACTS
from tests.support.images import png_bytes
from tests.support.shared import shared_dir

pytestmark = pytest.mark.browser


def inputs(tmp_path: Path) -> tuple[Path, Path]:
    content, style = tmp_path / "photo.png", tmp_path / "painting.png"
    content.write_bytes((shared_dir("media") / "chelsea.png").read_bytes())
    style.write_bytes((shared_dir("media") / "brick.png").read_bytes())
    return content, style


def test_one_click_from_upload_to_share_and_gallery(server: str, browser: Browser,
                                                    tmp_path: Path) -> None:
    content, style = inputs(tmp_path)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server + "/")
    expect(page.locator("option[value=adain]")).to_have_count(0)     # not installed: not offered
    expect(page.locator("#iterations-field")).to_be_hidden()
    page.click("#more-settings > summary")          # the detailed settings are folded
    page.select_option("#engine", "gatys-lite")
    expect(page.locator("#iterations-field")).to_be_visible()
    page.select_option("#engine", "microast")
    page.set_input_files("#content", str(content))
    page.set_input_files("#style", str(style))
    expect(page.locator("#content-preview img")).to_have_count(1)
    expect(page.locator("#style-preview img")).to_have_count(1)
    page.select_option("#size", "256")
    page.screenshot(path=ARTIFACTS / "create.png", full_page=True)

    page.click("#generate")
    page.wait_for_url(re.compile(r"/jobs/[\w-]+$"))
    expect(page.locator("#download")).to_be_visible(timeout=120_000)   # result page
    expect(page.locator("#compare-range")).to_be_visible()
    page.focus("#compare-range")
    page.keyboard.press("ArrowLeft")
    assert page.locator("#compare-range").input_value() == "49"
    page.screenshot(path=ARTIFACTS / "result.png", full_page=True)

    share_url = page.get_attribute("#share-link", "href")
    page.goto(server + share_url)
    og_image = page.get_attribute('meta[property="og:image"]', "content")
    assert og_image.startswith(server + "/media/results/")
    expect(page.locator("img.hero-image")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "share.png", full_page=True)

    page.goto(server + "/gallery")
    expect(page.locator("#gallery .card")).to_have_count(1)
    # loading="lazy": the page's load event does not wait for it, so wait (with a deadline)
    page.wait_for_function("document.querySelector('#gallery img').naturalWidth > 0")
    page.screenshot(path=ARTIFACTS / "gallery.png", full_page=True)


def test_progress_and_cancel_on_a_phone(server: str, browser: Browser, tmp_path: Path) -> None:
    content, style = inputs(tmp_path)
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page.goto(server + "/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the create page scrolls sideways on a phone ({width} px)"
    page.screenshot(path=ARTIFACTS / "create-phone.png", full_page=True)
    page.click("#more-settings > summary")          # the detailed settings are folded
    page.select_option("#engine", "gatys-lite")
    page.fill("#iterations", "2000")
    page.select_option("#size", "256")
    page.set_input_files("#content", str(content))
    page.set_input_files("#style", str(style))
    page.click("#generate")
    page.wait_for_url(re.compile(r"/jobs/[\w-]+$"))
    # generous deadlines: the CI machine's two cores are shared
    expect(page.locator("#job")).to_have_attribute("data-state", "running", timeout=120_000)
    expect(page.locator("#preview-figure")).to_be_visible(timeout=120_000)  # Gatys preview
    expect(page.locator("#eta")).not_to_have_text("—", timeout=120_000)
    page.screenshot(path=ARTIFACTS / "progress-phone.png", full_page=True)
    page.click("#cancel")                           # asks first: nothing is stopped yet
    expect(page.locator("#cancel-question")).to_be_visible()
    expect(page.locator("#cancel")).to_have_text("Yes, cancel it")
    expect(page.locator("#cancel")).to_be_focused()
    page.screenshot(path=ARTIFACTS / "cancel-asks-phone.png", full_page=True)
    page.click("#keep-going")                       # taken back: still running
    expect(page.locator("#cancel-question")).to_be_hidden()
    expect(page.locator("#cancel")).to_have_text("Cancel")
    assert page.request.get(page.url.replace("/jobs/", "/api/jobs/")).json()["state"] == \
        "running"
    page.click("#cancel")
    page.click("#cancel")
    expect(page.locator("#job")).to_have_attribute("data-state", "cancelled", timeout=60_000)
    expect(page.locator("#job-title")).to_have_text("Cancelled")


def test_refusals_are_shown_on_the_page(server: str, browser: Browser, tmp_path: Path) -> None:
    bogus = tmp_path / "notes.png"
    bogus.write_text("these are not pixels")
    style = tmp_path / "s.png"
    style.write_bytes(png_bytes())
    page = browser.new_page()
    page.goto(server + "/")
    page.set_input_files("#content", str(bogus))
    page.set_input_files("#style", str(style))
    page.click("#generate")
    expect(page.locator("#client-error")).to_contain_text("is not an image")
    assert page.url == server + "/"


def test_a_video_result_plays_with_its_poster(server: str, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server + "/")      # get the owner cookie first
    clip = (shared_dir("media") / "pan_24fps_2s.mp4").read_bytes()
    created = page.request.post(server + "/api/jobs", multipart={
        "content": {"name": "clip.mp4", "mimeType": "video/mp4", "buffer": clip},
        "style": {"name": "s.png", "mimeType": "image/png", "buffer": png_bytes(seed=4)},
        "engine": "microast", "size": "128"})
    assert created.status == 201, created.text()
    page.goto(server + created.json()["links"]["page"])
    video = page.locator("video.player")
    expect(video).to_be_visible(timeout=300_000)
    assert page.get_attribute("video.player", "poster").startswith("/media/thumbs/")
    page.wait_for_function("() => document.querySelector('video.player').readyState >= 1",
                           timeout=30_000)
    assert page.evaluate("document.querySelector('video.player').duration") > 1.5
    page.screenshot(path=ARTIFACTS / "result-video.png", full_page=True)
    page.goto(server + "/gallery")
    expect(page.locator(".badge")).to_have_text("▶ Video")


def test_drag_and_drop_and_keyboard_focus(server: str, browser: Browser) -> None:
    import base64

    page = browser.new_page()
    page.goto(server + "/")
    transfer = page.evaluate_handle("""(b64) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], "dropped.png", { type: "image/png" }));
        return dt;
    }""", base64.b64encode(png_bytes()).decode())
    page.dispatch_event("#content-drop", "drop", {"dataTransfer": transfer})
    expect(page.locator("#content-preview img")).to_have_count(1)
    assert page.evaluate("document.getElementById('content').files[0].name") == "dropped.png"

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    focused = page.evaluate("""() => { const el = document.activeElement;
        return [el.textContent.trim(), getComputedStyle(el).boxShadow]; }""")
    assert focused[0] == "Create" and focused[1] != "none", focused


def test_the_api_page_renders_with_no_internet(server: str, browser: Browser) -> None:
    """/docs was blank without internet (Swagger UI from a CDN): every request that does not
    go to the studio itself is cut here, as on a machine with no internet."""
    outside: list[str] = []
    page = browser.new_page(viewport={"width": 390, "height": 844})

    def only_the_studio(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.url.startswith(server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_studio)
    page.goto(server + "/docs")
    expect(page.locator("h1")).to_have_text("dreamgen API")
    expect(page.locator("#api-docs")).to_contain_text("works offline")
    operations = page.locator(".api-op")
    assert operations.count() >= 10
    expect(operations.first).to_be_visible()
    expect(page.locator("#op-1-title")).to_have_text("POST /api/jobs")
    page.click("a[href='#shape-JobOut'] >> nth=0")                   # linked shapes
    expect(page.locator("#shape-JobOut")).to_be_in_viewport()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the API page scrolls sideways on a phone ({width} px)"
    page.screenshot(path=ARTIFACTS / "api-docs-offline-phone.png", full_page=False)
    assert outside == []
    assert page.request.get(server + "/openapi.json").json()["info"]["title"] == "dreamgen"
