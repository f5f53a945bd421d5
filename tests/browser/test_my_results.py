"""My results in a real browser: the history of every job of this browser, retry, delete with
an undo, carrying the results to another browser with a key link; others see "Result" and
no original photo unless its owner shows it; titles and plain engine names on the cards;
downloads with readable names."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.results_support import (DESKTOP, PHONE, Studio, make_job, new_browser,
                                           no_sideways_scroll, shot, studio, wait_state)

pytestmark = pytest.mark.browser
__all__ = ["studio"]       # the fixture, imported for pytest


def test_history_retry_undo_and_a_key_for_another_browser(
        studio: Studio, browser: Browser, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DREAMGEN_TEST_ENGINE_FAULT", "raise@200")    # size 200 fails
    context, page = new_browser(browser)
    done = make_job(page, studio)
    failed = make_job(page, studio, content_name="Broken.png", size="200")
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
    phone.goto(link)
    expect(phone.locator("h1")).to_have_text("Use your results here?")
    expect(phone.locator("#key-from-link")).to_be_visible()
    assert "#" not in phone.url                                      # out of the address bar
    no_sideways_scroll(phone)
    shot(phone, "me-key-confirm-phone.png")
    phone.click("#adopt")
    phone.wait_for_url(re.compile(r"/me\?adopted="))
    expect(phone.locator("#mine .mine-item")).to_have_count(4)
    no_sideways_scroll(phone)
    shot(phone, "me-phone.png")
    phone_context.close()
    context.close()


def test_others_see_a_result_not_the_original_photo(studio: Studio, browser: Browser) -> None:
    context, page = new_browser(browser)
    job = wait_state(page, studio, make_job(page, studio)["id"], ("succeeded",))
    other_context, other = new_browser(browser)
    other.goto(f"{studio.url}/jobs/{job['id']}")
    expect(other.locator("#result-kind")).to_have_text("Result")
    expect(other.locator("#result-title")).to_have_text("Chelsea the cat")
    expect(other.locator("#compare")).to_have_count(0)
    expect(other.locator('img[alt="Original photo"], img[alt="Content image"]')).to_have_count(0)
    expect(other.locator("#delete")).to_have_count(0)
    expect(other.locator("#make-own")).to_be_visible()
    shot(other, "result-seen-by-others.png")

    # the owner renames it and shows the original
    page.goto(f"{studio.url}/jobs/{job['id']}")
    expect(page.locator("#result-kind")).to_have_text("Your picture is ready")
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
