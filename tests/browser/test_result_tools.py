"""A result's tools in a real browser: the share page's copy-link button, the admin hiding a
result (its share page then says it was removed), the instant strength preview and saving a
version, the wait estimate of a queued job (said once), a running clip's latest frame and
partial player, and the painterly engine's strength from the page (with download names)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, expect

from tests.browser.results_support import (DESKTOP, PHONE, TOKEN, Studio, make_job,
                                           new_browser, no_sideways_scroll, photo, shot, studio,
                                           wait_state)

pytestmark = pytest.mark.browser
__all__ = ["studio"]       # the fixture, imported for pytest


def test_share_page_copies_its_link(studio: Studio, browser: Browser) -> None:
    context, page = new_browser(browser, permissions=["clipboard-read", "clipboard-write"])
    job = wait_state(page, studio, make_job(page, studio, title="Chelsea")["id"],
                     ("succeeded",))
    visitor_context, visitor = new_browser(browser, phone=True,
                                           permissions=["clipboard-read", "clipboard-write"])
    visitor.goto(studio.url + job["links"]["share"])
    expect(visitor.locator("#share-title")).to_have_text("Chelsea")     # the typed title
    expect(visitor.locator("#make-own")).to_have_attribute("href", "/")
    visitor.click("#copy-link")
    expect(visitor.locator("#copy-link")).to_have_attribute("data-copied", "true")
    assert visitor.evaluate("navigator.clipboard.readText()") == \
        studio.url + job["links"]["share"]
    no_sideways_scroll(visitor)
    shot(visitor, "share-phone.png")
    page.goto(studio.url + job["links"]["share"])
    shot(page, "share-copy.png")
    visitor_context.close()
    context.close()


def test_the_admin_hides_a_result(studio: Studio, browser: Browser) -> None:
    context, page = new_browser(browser)
    job = wait_state(page, studio, make_job(page, studio)["id"], ("succeeded",))
    admin_context, admin = new_browser(browser)
    admin.goto(studio.url + "/admin")
    admin.fill("#admin-token", TOKEN)
    admin.click("#sign-in")
    row = admin.locator(f'.moderation-list [data-job="{job["id"]}"]')
    expect(row).to_be_visible()
    shot(admin, "admin-moderation.png")
    admin.goto(f"{studio.url}/jobs/{job['id']}")
    admin.click("#moderation summary")
    admin.click("#admin-hide")
    expect(admin.locator("#hidden-note")).to_be_visible()
    expect(admin.locator("#admin-hide")).to_have_text("Show it again")

    visitor_context, visitor = new_browser(browser)
    visitor.goto(studio.url + job["links"]["share"])
    expect(visitor.locator("#removed h1")).to_have_text("Removed")
    expect(visitor.locator("img.hero-image")).to_have_count(0)
    shot(visitor, "share-removed.png")
    visitor.goto(studio.url + "/gallery")
    expect(visitor.locator("#gallery .card")).to_have_count(0)
    page.goto(f"{studio.url}/jobs/{job['id']}")            # its owner still has it
    expect(page.locator("#hidden-note")).to_be_visible()
    expect(page.locator("#moderation")).to_have_count(0)

    admin.goto(studio.url + "/admin")
    row.locator('[data-role="delete"]').click()
    expect(admin.locator("#moderation-notice")).to_have_text("Deleted.")
    expect(admin.locator(f'.moderation-list [data-job="{job["id"]}"]')).to_have_count(0)
    for ctx in (visitor_context, admin_context, context):
        ctx.close()


def test_instant_strength_preview_and_save_this_version(studio: Studio, browser: Browser) -> None:
    context, page = new_browser(browser)
    job = wait_state(page, studio, make_job(page, studio, alpha="0.9", size="512")["id"],
                     ("succeeded",))
    page.goto(f"{studio.url}/jobs/{job['id']}")
    slider = page.locator("#strength")
    expect(slider).to_have_value("0.9")
    slider.focus()
    for _ in range(10):                         # drag down to 0.40, one step at a time
        page.keyboard.press("ArrowLeft")
    expect(page.locator("#strength-out")).to_have_text("0.40")
    expect(page.locator("#strength-form")).to_have_attribute("data-previewed", "0.40",
                                                             timeout=60_000)
    assert page.get_attribute("#after", "src").startswith("blob:")
    status = page.locator("#strength-status").text_content()
    assert re.fullmatch(r"Preview at strength 0\.40 \(\d+ ms\)\.", status), status
    page.wait_for_function("() => document.getElementById('after').complete")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "strength-preview.png")
    page.click("#save-version")
    page.wait_for_url(re.compile(r"/jobs/[\w-]+\?notice=version$"))
    assert job["id"] not in page.url
    expect(page.locator("#notice")).to_contain_text("Saved as a new result")
    expect(page.locator(".used")).to_contain_text("0.4")
    expect(page.locator("#strength")).to_have_value("0.4")
    context.close()


def test_a_queued_job_says_when_it_starts_once(studio: Studio, browser: Browser) -> None:
    context, page = new_browser(browser)
    painter = make_job(page, studio, engine="gatys-lite", iterations="2000")
    quick = make_job(page, studio)
    wait_state(page, studio, painter["id"], ("running",))
    page.goto(f"{studio.url}/jobs/{quick['id']}")
    expect(page.locator("#job-title")).to_have_text("Waiting in the queue")
    expect(page.locator("#position")).to_have_text("Next in line")
    # the painter's engine reports its pace from its first iterations on
    expect(page.locator("#wait")).to_have_text(re.compile(r"about \d+"), timeout=120_000)
    assert page.locator("#job .status").inner_text().count("queue") == 0
    assert page.locator("#job").inner_text().lower().count("in the queue") == 1
    shot(page, "queued.png")
    page.set_viewport_size(PHONE)
    no_sideways_scroll(page)
    shot(page, "queued-phone.png")
    page.set_viewport_size(DESKTOP)
    page.goto(f"{studio.url}/jobs/{painter['id']}")
    expect(page.locator("#eta")).to_have_text(re.compile(r"about \d+"), timeout=60_000)
    expect(page.locator("#eta-label")).to_have_text("Remaining")
    shot(page, "running-estimate.png")
    for job in (quick, painter):
        page.request.post(f"{studio.url}/api/jobs/{job['id']}/cancel")
    context.close()


def test_a_running_clip_shows_its_latest_frame_and_the_part_so_far(studio: Studio,
                                                                   browser: Browser) -> None:
    context, page = new_browser(browser, phone=True)
    page.goto(studio.url + "/me")
    created = page.request.post(studio.url + "/api/jobs", multipart={
        "content": {"name": "pan.mp4", "mimeType": "video/mp4",
                    "buffer": photo("pan_24fps_2s.mp4")},
        "mode": "dream", "size": "128", "octaves": "2", "dream_iterations": "3"})
    assert created.status == 201, created.text()
    job = created.json()
    page.goto(f"{studio.url}/jobs/{job['id']}")
    expect(page.locator("#partial-figure")).to_be_visible(timeout=240_000)
    expect(page.locator("#preview-figure figcaption")).to_have_text("The latest frame")
    page.wait_for_function("() => document.getElementById('partial').readyState >= 1",
                           timeout=30_000)
    assert page.evaluate("document.getElementById('partial').duration") > 0.2
    no_sideways_scroll(page)
    shot(page, "clip-running-phone.png")
    page.request.post(f"{studio.url}/api/jobs/{job['id']}/cancel")
    context.close()


def test_painterly_strength_from_the_page_changes_the_picture(studio: Studio, browser: Browser,
                                                             tmp_path: Path) -> None:
    """Findings 1 and 7: on the painterly engine strength 0 and 1 used to give byte-identical
    files; now 0 is the photo itself and 1 a painting, and each download is named after the
    uploads."""
    context, page = new_browser(browser)
    chelsea, brick = tmp_path / "Chelsea at home.png", tmp_path / "Brick wall.png"
    chelsea.write_bytes(photo())
    brick.write_bytes(photo("brick.png"))
    pictures = {}
    for strength in ("0", "1"):
        page.goto(studio.url)
        page.set_input_files("#content", str(chelsea))
        page.set_input_files("#style", str(brick))
        page.check("#preset-own", force=True)
        page.click("#more-settings summary")
        page.select_option("#engine", "gatys-lite")
        page.select_option("#size", "256")
        page.fill("#iterations", "20")
        page.fill("#alpha", strength)
        page.click("#generate")
        expect(page.locator("#download")).to_be_visible(timeout=240_000)
        with page.expect_download() as info:
            page.click("#download")
        name = info.value.suggested_filename
        assert re.fullmatch(r"dreamgen-chelsea-at-home-brick-wall-[\w-]+\.png", name), name
        info.value.save_as(tmp_path / f"strength-{strength}.png")
        with Image.open(tmp_path / f"strength-{strength}.png") as result:
            pictures[strength] = np.asarray(result.convert("RGB"), dtype=np.float64)
        expect(page.locator("dl.used")).to_contain_text(f"Style strength{float(strength)}")
    shot(page, "painterly-strength-1.png")
    with Image.open(chelsea) as original:
        size = pictures["0"].shape[1], pictures["0"].shape[0]
        photo_pixels = np.asarray(original.convert("RGB").resize(size, Image.LANCZOS),
                                  dtype=np.float64)
    assert np.abs(pictures["0"] - photo_pixels).mean() < 4        # strength 0: the photo
    assert np.abs(pictures["1"] - pictures["0"]).mean() > 10      # strength 1: painted
    context.close()


def test_links_from_127_0_0_1_say_they_work_on_this_computer_only(studio: Studio,
                                                                   browser: Browser) -> None:
    """The studio here listens on 127.0.0.1 (the default): a share link or key link sent to
    a phone reaches nothing, and the share and key panels say so and how to fix it."""
    context, page = new_browser(browser, phone=True)
    job = wait_state(page, studio, make_job(page, studio)["id"], ("succeeded",))
    page.goto(studio.url + f"/r/{job['id']}")
    note = page.locator("#share-local-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("This link works on this computer only")
    expect(note).to_contain_text("dreamgen serve --host 0.0.0.0")
    expect(note).to_contain_text("DREAMGEN_PUBLIC_URL")
    no_sideways_scroll(page)
    shot(page, "result-local-link-phone.png")
    page.goto(studio.url + "/me")
    page.click("#make-key")
    expect(page.locator("#key-link")).to_have_value(re.compile(r"^http://127\.0\.0\.1:\d+/me/key#"))
    expect(page.locator("#key-local-note")).to_be_visible()
    expect(page.locator("#key-local-note")).to_contain_text("on this computer only")
    no_sideways_scroll(page)
    shot(page, "key-local-link-phone.png")
    context.close()
