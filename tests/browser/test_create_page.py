"""The create page in a real browser: the mode switch (a dream without any style image),
style images added one by one with their own weights, a file checked by its bytes at once,
the style library, "edit and retry" keeping everything, trimming a clip and watching its
frames, and a phone's width. Screenshots go to tests/artifacts/browser/."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from app.settings import Settings
from app.web.main import create_app
from tests.browser.conftest import ARTIFACTS, serving
from tests.support.images import png_bytes
from tests.support.shared import shared_dir

pytestmark = pytest.mark.browser
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}
LONG = 240_000          # ms: the CI machine's two cores are shared


@pytest.fixture
def studio(tmp_path: Path, shared_weights: Path) -> Iterator[str]:
    """A studio whose clips are made in half-second segments (previews come early)."""
    settings = Settings(data_dir=tmp_path / "data", weights_dir=shared_weights, device="cpu",
                        workers=1, min_free_disk_mb=1, rate_limit_per_minute=0,
                        video_segment_seconds=0.5)
    with serving(create_app(settings)) as url:
        yield url


def photo(tmp_path: Path, name: str, shared: str) -> Path:
    path = tmp_path / name
    path.write_bytes((shared_dir("media") / shared).read_bytes())
    return path


def open_more(page: Page) -> None:
    if not page.locator("#more-settings").evaluate("d => d.open"):
        page.click("#more-settings > summary")


def no_sideways_scroll(page: Page, width: int) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"the page scrolls sideways ({scroll} px at {width} px)"


def api_job(page: Page, server: str, job_id: str) -> dict[str, Any]:
    return page.request.get(f"{server}/api/jobs/{job_id}").json()


def job_id_of(page: Page) -> str:
    page.wait_for_url(re.compile(r"/jobs/[\w-]+$"), timeout=60_000)
    return page.url.rsplit("/", 1)[1]


def cancel_job(page: Page) -> None:
    """The job page's Cancel: it asks first, the second press stops the job."""
    page.click("#cancel")
    expect(page.locator("#cancel")).to_have_text("Yes, cancel it")
    page.click("#cancel")
    expect(page.locator("#job")).to_have_attribute("data-state", "cancelled", timeout=LONG)


def generate_small(page: Page, screenshot: str) -> str:
    """Choose a 256 px output, keep a screenshot of the filled form, click Generate and
    return the new job's id from the job page it lands on."""
    open_more(page)
    page.select_option("#size", "256")
    page.screenshot(path=ARTIFACTS / screenshot, full_page=True)
    page.click("#generate")
    return job_id_of(page)


def test_a_dream_from_the_page_without_a_style_image(studio: str, browser: Browser,
                                                     tmp_path: Path) -> None:
    page = browser.new_page(viewport=DESKTOP)
    page.goto(studio + "/")
    expect(page.locator("#style-drop")).to_be_visible()
    expect(page.locator("#guide-drop")).to_be_hidden()
    page.check("#mode-dream")
    expect(page.locator("#style-drop")).to_be_hidden()
    expect(page.locator("#guide-drop")).to_be_visible()
    expect(page.locator("#alpha")).to_be_hidden()                 # style-only settings go
    expect(page.locator("#depth-field")).to_be_visible()          # dream settings come
    expect(page.locator("#octaves")).to_be_visible()
    expect(page.locator("#dream_iterations")).to_be_visible()
    page.set_input_files("#content", str(photo(tmp_path, "photo.png", "chelsea.png")))
    expect(page.locator("#content-preview img")).to_have_count(1)
    page.check("#preset-fast")
    page.check("input[name=depth][value=patterns]")
    page.fill("#octaves", "1")
    page.fill("#dream_iterations", "3")
    job_id = generate_small(page, "create-dream.png")
    expect(page.locator("#download")).to_be_visible(timeout=LONG)
    job = api_job(page, studio, job_id)
    assert job["engine"] == "deepdream" and job["links"]["styles"] == []
    assert (job["options"]["depth"], job["options"]["octaves"]) == ("patterns", 1)
    page.screenshot(path=ARTIFACTS / "dream-result.png", full_page=True)


def test_styles_added_one_by_one_with_their_own_weights(studio: str, browser: Browser,
                                                        tmp_path: Path) -> None:
    first, second, third = (photo(tmp_path, f"{n}.png", s) for n, s in
                            (("brick", "brick.png"), ("gravel", "gravel.png"),
                             ("coffee", "coffee.png")))
    page = browser.new_page(viewport=DESKTOP)
    page.goto(studio + "/")
    page.set_input_files("#content", str(photo(tmp_path, "photo.png", "chelsea.png")))
    page.set_input_files("#style", str(first))
    expect(page.locator("#style-preview .style-card")).to_have_count(1)
    page.set_input_files("#style", str(second))          # one at a time: nothing is replaced
    cards = page.locator("#style-preview .style-card")
    expect(cards).to_have_count(2)
    expect(cards.locator("input.style-weight")).to_have_count(2)
    assert page.evaluate("[...document.getElementById('style').files].map(f => f.name)") == \
        ["brick.png", "gravel.png"]
    page.click("#style-preview .style-card:first-child .remove-style")
    expect(cards).to_have_count(1)
    assert page.evaluate("[...document.getElementById('style').files].map(f => f.name)") == \
        ["gravel.png"]
    page.set_input_files("#style", str(third))
    expect(cards).to_have_count(2)
    slider = cards.nth(0).locator("input.style-weight")
    slider.focus()
    for _ in range(4):
        page.keyboard.press("ArrowRight")                # 1 -> 3 in steps of 0.5
    expect(cards.nth(0).locator("output")).to_have_text("3")
    page.check("#preset-fast")
    job = api_job(page, studio, generate_small(page, "create-two-styles.png"))
    assert len(job["links"]["styles"]) == 2 and job["options"]["style_weights"] == [3.0, 1.0]


def test_the_page_says_what_becomes_public_before_the_click(studio: str, browser: Browser,
                                                            tmp_path: Path) -> None:
    """Public or unlisted, one sentence each, the title and the library choice (off) sit
    right above Generate; the file's name never reaches another visitor."""
    page = browser.new_page(viewport=DESKTOP)
    page.goto(studio + "/")
    publish = page.locator("#publish")
    expect(publish).to_be_visible()
    expect(publish).to_contain_text("The result goes in the gallery for anyone to see")
    expect(publish).to_contain_text("only people you give its link to can see it")
    expect(page.locator("#visibility-public")).to_be_checked()
    expect(page.locator("#share-styles")).not_to_be_checked()
    expect(page.locator("#share-styles-hint")).to_contain_text("appear only beside this result")
    box, button = publish.bounding_box(), page.locator("#generate").bounding_box()
    assert box and button and 0 <= button["y"] - (box["y"] + box["height"]) < 80  # just above
    page.set_input_files("#content", str(photo(tmp_path, "Anna Schmidt passport.png",
                                               "chelsea.png")))
    page.set_input_files("#style", str(photo(tmp_path, "brick.png", "brick.png")))
    page.check("#preset-fast")
    publish.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "create-publish.png", full_page=True)
    job_id = generate_small(page, "create-publish-filled.png")
    expect(page.locator("#job-name")).to_have_text("Anna Schmidt passport")   # its owner
    deadline = time.monotonic() + LONG / 1000
    while api_job(page, studio, job_id)["state"] != "succeeded":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    other = browser.new_page(viewport=DESKTOP)
    other.goto(studio + "/gallery")
    expect(other.locator("#gallery .card-title")).to_have_text(["Untitled"])
    other.goto(f"{studio}/jobs/{job_id}")
    expect(other.locator("#result-title")).to_have_text("Untitled")
    assert "Anna" not in other.content()
    other.goto(studio + "/styles")
    expect(other.locator(".style-item")).to_have_count(0)   # not offered to the library
    other.close()


def test_a_text_file_named_png_is_warned_at_once(studio: str, browser: Browser,
                                                 tmp_path: Path) -> None:
    notes = tmp_path / "notes.png"
    notes.write_text("these are my shopping notes, not pixels")
    page = browser.new_page(viewport=DESKTOP)
    page.goto(studio + "/")
    page.set_input_files("#style", str(notes))
    warning = page.locator("#style-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("notes.png")
    expect(warning).to_contain_text("is not an image")
    expect(warning).to_be_focused()
    expect(page.locator("#style-preview .style-card")).to_have_count(0)   # no broken preview
    page.set_input_files("#content", str(notes))
    expect(page.locator("#content-warning")).to_be_focused()
    expect(page.locator("#content-preview img")).to_have_count(0)
    page.screenshot(path=ARTIFACTS / "create-bad-file.png", full_page=True)
    page.click("#generate")
    expect(page.locator("#client-error")).to_be_focused()
    expect(page.locator("#client-error")).to_contain_text("is not an image")


def make_public_result(page: Page, server: str, style: bytes) -> dict[str, Any]:
    page.goto(server + "/")                               # the owner cookie first
    created = page.request.post(server + "/api/jobs", multipart={
        "content": {"name": "c.png", "mimeType": "image/png", "buffer": png_bytes(seed=2)},
        "style": {"name": "s.png", "mimeType": "image/png", "buffer": style},
        "engine": "microast", "size": "96", "share_styles": "true"})
    assert created.status == 201, created.text()
    job_id = created.json()["id"]
    deadline = time.monotonic() + LONG / 1000
    while (job := api_job(page, server, job_id))["state"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job["state"] == "succeeded", job["error"]
    return job


def test_a_style_picked_from_the_library(studio: str, browser: Browser,
                                         tmp_path: Path) -> None:
    brick = (shared_dir("media") / "brick.png").read_bytes()
    page = browser.new_page(viewport=DESKTOP)
    make_public_result(page, studio, brick)
    page.goto(studio + "/styles")
    expect(page.locator(".style-item")).to_have_count(1)
    expect(page.locator(".style-item img")).to_have_js_property("complete", True)
    assert page.evaluate("document.querySelector('.style-item img').naturalWidth") > 0
    page.screenshot(path=ARTIFACTS / "styles.png", full_page=True)
    page.click(".use-style")
    page.wait_for_url(re.compile(r"/\?style_id=\d+$"))
    cards = page.locator("#style-preview .style-card")
    expect(cards).to_have_count(1)
    expect(cards.locator('input[name="style_id"]')).to_have_count(1)
    page.click("#library-picker > summary")              # the same style again: not twice
    page.click("#library-picker .pick")
    expect(cards).to_have_count(1)
    page.set_input_files("#content", str(photo(tmp_path, "photo.png", "astronaut.png")))
    page.check("#preset-fast")
    job = api_job(page, studio, generate_small(page, "create-library-pick.png"))
    assert len(job["links"]["styles"]) == 1
    used = page.request.get(studio + job["links"]["styles"][0]).body()
    library = page.request.get(studio + "/api/styles").json()["styles"][0]
    assert used == page.request.get(studio + library["image"]).body()


def test_edit_and_retry_keeps_the_files_and_settings(studio: str, browser: Browser,
                                                     tmp_path: Path) -> None:
    page = browser.new_page(viewport=DESKTOP)
    page.goto(studio + "/")
    page.set_input_files("#content", str(photo(tmp_path, "photo.png", "chelsea.png")))
    page.set_input_files("#style", str(photo(tmp_path, "brick.png", "brick.png")))
    page.check("#preset-own")
    page.fill("#alpha", "0.4")
    open_more(page)
    page.select_option("#engine", "gatys-lite")
    page.select_option("#size", "256")
    page.fill("#iterations", "2000")
    page.fill("#style_scale", "1.5")
    page.check("input[name=visibility][value=unlisted]")
    page.click("#generate")
    first = job_id_of(page)
    cancel_job(page)
    page.click("#edit-retry")                            # the job page's "Edit and retry"
    page.wait_for_url(re.compile(r"/\?from="))
    expect(page.locator("#content-reused img")).to_be_visible()
    expect(page.locator("#style-preview .style-card")).to_have_count(1)
    expect(page.locator("#alpha")).to_have_value("0.4")
    expect(page.locator("#preset-own")).to_be_checked()
    open_more(page)
    expect(page.locator("#engine")).to_have_value("gatys-lite")
    expect(page.locator("#size")).to_have_value("256")
    expect(page.locator("#iterations")).to_have_value("2000")
    expect(page.locator("#style_scale")).to_have_value("1.5")
    expect(page.locator("input[name=visibility][value=unlisted]")).to_be_checked()
    page.screenshot(path=ARTIFACTS / "create-retry.png", full_page=True)
    page.click("#generate")
    second = job_id_of(page)
    assert second != first
    old, new = api_job(page, studio, first), api_job(page, studio, second)
    for key in ("engine", "alpha", "size", "iterations", "style_scale"):
        assert new["options"][key] == old["options"][key], key
    assert new["visibility"] == "unlisted"
    cancel_job(page)


def test_trim_a_clip_and_watch_its_frames(studio: str, browser: Browser,
                                          tmp_path: Path) -> None:
    from tests.support.clips import pan_frames, write_clip

    clip = write_clip(tmp_path / "pan.mp4", pan_frames("astronaut.png", (320, 240), 96))
    page = browser.new_page(viewport=DESKTOP)
    page.goto(studio + "/")
    expect(page.locator("#trim")).to_be_hidden()
    expect(page.locator("#preset-balanced")).to_be_checked()         # the default quality
    page.set_input_files("#content", str(clip))
    expect(page.locator("#trim")).to_be_visible()
    # Balanced paints clips too: the choice stays, with no note
    expect(page.locator("#preset-balanced")).to_be_checked()
    expect(page.locator("#clip-quality")).to_be_hidden()
    expect(page.locator("#clip-length")).to_contain_text("4.0 s long")
    assert page.get_attribute("#trim_end", "max") == "4.0"
    page.fill("#trim_start", "0.5")
    page.fill("#trim_end", "3.5")
    page.set_input_files("#style", str(photo(tmp_path, "brick.png", "brick.png")))
    page.check("#preset-fast")
    job_id = generate_small(page, "create-trim.png")
    expect(page.locator("#preview-figure")).to_be_visible(timeout=LONG)
    expect(page.locator("#preview")).to_have_attribute("src", re.compile(r"/media/"))
    preview = page.request.get(studio + page.get_attribute("#preview", "src", timeout=5_000))
    assert preview.ok and preview.headers["content-type"].startswith("image/")
    page.screenshot(path=ARTIFACTS / "clip-running.png", full_page=True)
    job = api_job(page, studio, job_id)
    assert (job["options"]["trim_start"], job["options"]["trim_end"]) == (0.5, 3.5)
    expect(page.locator("#download")).to_be_visible(timeout=LONG)         # the result page
    page.wait_for_function("() => document.querySelector('video.player').readyState >= 1",
                           timeout=30_000)
    duration = page.evaluate("document.querySelector('video.player').duration")
    assert 2.7 < duration < 3.3, duration


def test_the_create_page_on_a_phone(studio: str, browser: Browser, tmp_path: Path) -> None:
    page = browser.new_page(viewport=PHONE, device_scale_factor=2)
    page.goto(studio + "/")
    no_sideways_scroll(page, PHONE["width"])
    page.set_input_files("#content", str(photo(tmp_path, "photo.png", "chelsea.png")))
    page.set_input_files("#style", str(photo(tmp_path, "brick.png", "brick.png")))
    page.set_input_files("#style", str(photo(tmp_path, "gravel.png", "gravel.png")))
    expect(page.locator("#style-preview .style-card")).to_have_count(2)
    open_more(page)
    no_sideways_scroll(page, PHONE["width"])
    page.screenshot(path=ARTIFACTS / "create-phone-styles.png", full_page=True)
    page.check("#mode-dream")
    no_sideways_scroll(page, PHONE["width"])
    page.screenshot(path=ARTIFACTS / "create-phone-dream.png", full_page=True)
    page.goto(studio + "/styles")
    no_sideways_scroll(page, PHONE["width"])
    # keyboard: the mode switch and the quality choice are reachable and announce themselves
    page.goto(studio + "/")
    page.focus("#mode-style")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#mode-dream")).to_be_checked()
    expect(page.locator("#guide-drop")).to_be_visible()
    assert page.get_attribute("#style-preview", "aria-label") == "Chosen styles"


def test_a_refusal_goes_when_its_cause_is_fixed(studio: str, browser: Browser,
                                                tmp_path: Path) -> None:
    """A stale error stayed on the page after the person picked another file."""
    thin = tmp_path / "stripe.png"
    thin.write_bytes(png_bytes((3000, 20)))
    page = browser.new_page(viewport=DESKTOP)
    page.goto(studio + "/")
    page.set_input_files("#content", str(photo(tmp_path, "photo.png", "chelsea.png")))
    page.set_input_files("#style", str(thin))
    page.check("#preset-fast")
    page.click("#generate")
    error = page.locator("#client-error")
    expect(error).to_contain_text("too thin to use")
    expect(error).to_be_focused()
    page.click("#style-preview .style-card .remove-style")        # the cause goes
    expect(error).to_be_hidden()
    page.set_input_files("#style", str(photo(tmp_path, "brick.png", "brick.png")))
    # a setting: more octaves than a 451x300 photo has room for at 256 px
    page.check("#mode-dream")
    open_more(page)
    page.select_option("#size", "256")
    page.fill("#octaves", "8")
    page.click("#generate")
    expect(error).to_contain_text("has room for")
    page.screenshot(path=ARTIFACTS / "create-stale-error.png", full_page=True)
    page.fill("#octaves", "2")                                    # typing fixes it
    expect(error).to_be_hidden()
    assert page.url == studio + "/"


def test_the_qualities_say_what_they_make_of_this_photo(studio: str, browser: Browser,
                                                        tmp_path: Path) -> None:
    """Best at a small photo looked the same as Balanced, and "larger" was larger than the
    photo; no time is promised before this server has made one."""
    page = browser.new_page(viewport=DESKTOP)
    page.goto(studio + "/")
    expect(page.locator("#eta-balanced-style")).to_have_text("no run on this server yet")
    expect(page.locator("#preset-photo-note")).to_be_hidden()
    page.set_input_files("#content", str(photo(tmp_path, "coffee.png", "coffee.png")))
    best = page.locator("#presets label:has(#preset-best) .style-only .preset-size")
    expect(best).to_have_text("600 px (your photo's own size: 1024 px would enlarge it)")
    expect(page.locator("#preset-photo-note")).to_be_hidden()        # only Best is capped
    page.set_input_files("#content", str(photo(tmp_path, "cat.png", "chelsea.png")))
    note = page.locator("#preset-photo-note")
    expect(note).to_contain_text("so Fast, Balanced and Best all make it 451 px")
    expect(note).to_contain_text("Balanced: Painterly (slow), 200 steps, 1 enhance pass; "
                                 "Best: Painterly (slow), 400 steps, 2 enhance passes")
    page.check("#mode-dream")
    expect(note).to_contain_text("4 octaves of 10 steps")
    page.screenshot(path=ARTIFACTS / "create-photo-sizes.png", full_page=True)


@pytest.mark.slow
def test_a_painterly_clip_at_balanced_from_the_page_plays(studio: str, browser: Browser,
                                                          tmp_path: Path) -> None:
    """Balanced keeps a clip (it paints it frame by frame); the result plays, shown at the
    clip's own size rather than stretched across the page."""
    from tests.support.clips import pan_frames, write_clip

    clip = write_clip(tmp_path / "pan.mp4", pan_frames("coffee.png", (160, 120), 12, step=3),
                      fps=12, tone_hz=440.0)
    page = browser.new_page(viewport=DESKTOP)
    page.goto(studio + "/")
    page.set_input_files("#content", str(clip))
    expect(page.locator("#trim")).to_be_visible()
    expect(page.locator("#preset-balanced")).to_be_checked()
    expect(page.locator("#clip-quality")).to_be_hidden()
    page.set_input_files("#style", str(photo(tmp_path, "brick.png", "brick.png")))
    open_more(page)
    page.fill("#iterations", "4")                 # a few steps a frame: two cores, no GPU
    job_id = generate_small(page, "create-painterly-clip.png")
    job = api_job(page, studio, job_id)
    assert (job["engine"], job["kind"], job["options"]["iterations"]) == ("gatys-lite",
                                                                         "video", 4)
    expect(page.locator("#download")).to_be_visible(timeout=LONG)         # the result page
    player = page.locator("video.player")
    page.wait_for_function("() => document.querySelector('video.player').readyState >= 2",
                           timeout=30_000)
    page.evaluate("() => { const v = document.querySelector('video.player');"
                  " v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.querySelector('video.player').currentTime > 0.3",
                           timeout=30_000)
    box = player.bounding_box()
    assert box is not None and round(box["width"]) == 160, box        # its own size
    page.screenshot(path=ARTIFACTS / "painterly-clip-result.png", full_page=True)
