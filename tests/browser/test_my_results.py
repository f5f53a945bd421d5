"""My results in a real browser: the history of every job of this browser, retry, delete with
an undo, opening the results in another browser with a key link (which keeps that browser's
own results and offers moving them only as a separate, warned choice); others see "Result",
no original photo unless its owner shows it and no file name as the title; titles and
plain engine names on the cards; downloads with readable names."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.results_support import (
    DESKTOP,
    PHONE,
    Studio,
    make_job,
    new_browser,
    no_sideways_scroll,
    shot,
    studio,
    wait_state,
)

pytestmark = pytest.mark.browser
__all__ = ["studio"]       # the fixture, imported for pytest


def test_history_retry_undo_and_a_key_for_another_browser(
        studio: Studio, browser: Browser) -> None:
    context, page = new_browser(browser)
    done = make_job(page, studio)
    failed = make_job(page, studio, content_name="Broken.png", engine="test-raise")
    unlisted = make_job(page, studio, content_name="Secret garden.png", visibility="unlisted")
    for job in (done, failed, unlisted):
        wait_state(page, studio, job["id"], ("succeeded", "failed"))
    page.goto(studio.url + "/me")
    items = page.locator("#mine .mine-item")
    expect(items).to_have_count(3)
    expect(items.first).to_contain_text("Secret garden")              # newest first
    expect(items.first).to_contain_text("unlisted")
    expect(page.locator(f'[data-job="{failed["id"]}"] .state-badge')).to_have_text("Failed")
    expect(page.locator(f'[data-job="{failed["id"]}"]')).to_contain_text(   # words, no trace
        "something went wrong on our side")
    expect(page.locator(f'[data-job="{done["id"]}"]')).to_contain_text("Style transfer · Fast")
    shot(page, "me.png")

    # retry the failed one: a new job with the same files and settings
    page.locator(f'[data-job="{failed["id"]}"] [data-role="retry"]').click()
    page.wait_for_url(re.compile(r"/jobs/[\w-]+$"))
    assert failed["id"] not in page.url
    expect(page.locator("#job")).to_have_attribute("data-state", "failed", timeout=120_000)
    expect(page.locator("#retry")).to_be_visible()
    expect(page.locator("#edit-retry")).to_have_attribute("href", re.compile(r"^/\?from="))
    shot(page, "job-failed.png")

    # delete from the result page: My results says so and offers "Undo"
    page.goto(f"{studio.url}/jobs/{done['id']}")
    page.click("#delete")
    page.wait_for_url(re.compile(r"/me\?deleted="))
    expect(page.locator("#deleted-notice")).to_contain_text("Deleted “Chelsea the cat”.")
    expect(page.locator("#undo-left")).to_have_text(re.compile(r"\d+ s left"))
    expect(page.locator(f'[data-job="{done["id"]}"]')).to_have_count(0)
    shot(page, "me-deleted.png")
    page.click("#undo")
    expect(page.locator("#notice")).to_contain_text("Restored")
    expect(page.locator(f'[data-job="{done["id"]}"]')).to_have_count(1)

    # a key link carries everything to another browser (a phone)
    page.click("#make-key")
    link = page.locator("#key-link").input_value()
    assert re.fullmatch(re.escape(studio.url) + r"/me/key#[\w-]{32}", link), link
    expect(page.locator("#copy-key")).to_be_visible()
    shot(page, "me-key.png")
    phone_context, phone = new_browser(browser, phone=True)
    phone.goto(studio.url + "/me")
    expect(phone.locator("#empty")).to_be_visible()                  # nothing of the other's
    phone_job = make_job(phone, studio, content_name="Phone snap.png")
    phone.goto(link)
    expect(phone.locator("h1")).to_have_text("Open results from another browser?")
    expect(phone.locator("#key-from-link")).to_be_visible()
    assert "#" not in phone.url                                      # out of the address bar
    expect(phone.locator("#open-here")).to_be_focused()              # the safe choice
    expect(phone.locator("#open-note")).to_contain_text("stays yours")
    expect(phone.locator("#move-here")).to_be_hidden()               # folded away
    phone.click("#move-choice > summary")
    expect(phone.locator("#move-warning")).to_contain_text("original photos included")
    expect(phone.locator("#move-here")).to_have_text("Move my 1 result there too")
    no_sideways_scroll(phone)
    shot(phone, "me-key-confirm-phone.png")
    phone.click("#open-here")
    phone.wait_for_url(re.compile(r"/me\?opened="))
    expect(phone.locator("#mine .mine-item")).to_have_count(4)      # the other browser's
    expect(phone.locator(f'[data-job="{phone_job["id"]}"]')).to_have_count(0)
    expect(phone.locator("#home-panel")).to_contain_text("This browser's own results (1)")
    no_sideways_scroll(phone)
    shot(phone, "me-phone.png")
    phone.goto(studio.url + "/")
    expect(phone.locator("#key-owner-note")).to_be_visible()        # what is made goes there
    phone.goto(studio.url + "/me")
    phone.click("#switch-back")
    expect(phone.locator("#notice")).to_contain_text("Back to this browser's own results")
    expect(phone.locator("#mine .mine-item")).to_have_count(1)
    expect(phone.locator(f'[data-job="{phone_job["id"]}"]')).to_have_count(1)
    phone_context.close()

    # a reload of the page that showed the key keeps it (no new key, the link still works)
    page.reload()
    assert page.locator("#key-link").input_value() == link
    context.close()


def test_others_see_a_result_not_the_original_photo(studio: Studio, browser: Browser) -> None:
    context, page = new_browser(browser)
    job = wait_state(page, studio, make_job(page, studio)["id"], ("succeeded",))
    other_context, other = new_browser(browser)
    other.goto(f"{studio.url}/jobs/{job['id']}")
    expect(other.locator("#result-kind")).to_have_text("Result")
    expect(other.locator("#result-title")).to_have_text("Untitled")     # not the file's name
    expect(other.locator("#compare")).to_have_count(0)
    expect(other.locator('img[alt="Original photo"], img[alt="Content image"]')).to_have_count(0)
    expect(other.locator("#delete")).to_have_count(0)
    expect(other.locator("#make-own")).to_be_visible()
    shot(other, "result-seen-by-others.png")

    # the owner renames it and shows the original
    page.goto(f"{studio.url}/jobs/{job['id']}")
    expect(page.locator("#result-kind")).to_have_text("Your picture is ready")
    expect(page.locator("#result-title")).to_have_text("Chelsea the cat")   # its owner's view
    expect(page.locator("#title")).to_have_value("")
    expect(page.locator("#title")).to_have_attribute("placeholder", "Chelsea the cat")
    expect(page.locator("#title-note")).to_contain_text("Others see “Untitled”")
    page.fill("#title", "Chelsea among bricks")
    page.check("#show-original")
    page.click("#save-details")
    expect(page.locator("#notice")).to_have_text("Saved.")
    expect(page.locator("#result-title")).to_have_text("Chelsea among bricks")
    shot(page, "result-owner.png")
    other.reload()
    expect(other.locator("#compare")).to_be_visible()

    page.set_viewport_size(PHONE)
    no_sideways_scroll(page)
    shot(page, "result-owner-phone.png")
    page.set_viewport_size(DESKTOP)
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == \
        f"dreamgen-chelsea-the-cat-brick-wall-{job['id']}.png"

    other.goto(studio.url + "/gallery")
    card = other.locator("#gallery .card").first
    expect(card.locator(".card-title")).to_have_text("Chelsea among bricks")
    expect(card.locator(".card-how")).to_have_text("Style transfer · Fast")
    shot(other, "gallery-titles.png")
    other_context.close()
    context.close()
