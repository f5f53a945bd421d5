"""The community in a real browser, by keyboard and on a phone: an anonymous picture carried
into a new account, another person on a phone who likes, comments, follows and reports it,
the admin hiding it from the reports queue, and the create page saying what a job costs."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from app.settings import Settings
from app.web.main import create_app
from tests.browser.conftest import ARTIFACTS, serving
from tests.support.images import png_bytes
from tests.support.waiting import wait_until

pytestmark = pytest.mark.browser
TOKEN = "community-browser-admin-token"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}


@pytest.fixture
def studio(tmp_path: Path, shared_weights: Path) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path / "data", weights_dir=shared_weights, device="cpu",
                        workers=1, min_free_disk_mb=1, admin_token=TOKEN)
    with serving(create_app(settings)) as url:
        yield url


def made_anonymously(page: Page, server: str) -> str:
    """A finished public picture of this browser's (made through the API, its cookie's)."""
    created = page.request.post(server + "/api/jobs", multipart={
        "content": {"name": "harbour.png", "mimeType": "image/png", "buffer": png_bytes()},
        "style": {"name": "style.png", "mimeType": "image/png", "buffer": png_bytes(seed=3)},
        "engine": "microast", "size": "96", "title": "Harbour"})
    assert created.status == 201, created.text()
    job_id = created.json()["id"]
    wait_until("the picture to finish", lambda: page.request.get(
        f"{server}/api/jobs/{job_id}").json()["state"] == "succeeded", 120)
    return job_id


def by_keyboard(page: Page, fields: dict[str, str]) -> None:
    """Fill a form the way someone without a mouse does: Tab to each field, type, Enter."""
    for selector, text in fields.items():
        for _ in range(40):
            if page.evaluate("document.activeElement && document.activeElement.id") == \
                    selector.lstrip("#"):
                break
            page.keyboard.press("Tab")
        else:
            raise AssertionError(f"{selector} cannot be reached with Tab")
        page.keyboard.type(text)
    page.keyboard.press("Enter")


def fits_the_screen(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_two_people_and_the_admin_by_keyboard_and_on_a_phone(studio: str,
                                                            browser: Browser) -> None:
    alice = browser.new_page(viewport={"width": 1280, "height": 900})
    job_id = made_anonymously(alice, studio)
    alice.goto(studio + "/signup")
    by_keyboard(alice, {"#username": "alice", "#password": "correct horse battery"})
    alice.wait_for_url("**/account?notice=welcome")
    expect(alice.locator("#notice")).to_contain_text("Welcome")
    expect(alice.locator("#nav-account")).to_have_text("@alice")
    alice.goto(studio + "/me")
    expect(alice.locator(f'[data-job="{job_id}"]')).to_have_count(1)     # carried over
    alice.goto(studio + "/")
    # Balanced paints (200 iterations); Fast is one pass: the price follows before the click
    expect(alice.locator("#job-cost-units")).to_have_text("This job costs 200 work units.")
    alice.check("#preset-fast")
    expect(alice.locator("#job-cost-units")).to_have_text("This job costs 1 work unit.")
    expect(alice.locator("#allowance-left")).to_contain_text("No daily limit")
    alice.screenshot(path=ARTIFACTS / "community-create-cost.png")

    context = browser.new_context(**PHONE)
    bob = context.new_page()
    bob.on("console", lambda m: browser.violations.append(m.text)       # type: ignore
           if "Content Security Policy" in m.text else None)
    bob.goto(studio + "/signup")
    bob.fill("#username", "bob")
    bob.fill("#password", "another good secret")
    bob.tap("#auth-submit")
    bob.wait_for_url("**/account?notice=welcome")
    assert fits_the_screen(bob)
    bob.goto(studio + "/gallery")
    bob.tap("#gallery .card a")
    bob.wait_for_url(f"**/jobs/{job_id}")
    expect(bob.locator("#result-author")).to_have_text("alice")
    bob.tap("#like-button")
    expect(bob.locator("#like-count")).to_have_text("1 like")
    expect(bob.locator("#like-button")).to_have_attribute("aria-pressed", "true")
    bob.fill("#comment-text", "Lovely <b>colours</b>")
    bob.tap("#comment-submit")
    expect(bob.locator(".comment-text")).to_have_text("Lovely <b>colours</b>")   # as text
    bob.locator("#report-result summary").tap()
    bob.fill("#report-reason", "just checking")
    bob.tap("#report-submit")
    expect(bob.locator("#reported")).to_be_visible()
    assert fits_the_screen(bob)
    bob.screenshot(path=ARTIFACTS / "community-result-phone.png", full_page=True)

    bob.tap("#result-author")
    bob.wait_for_url("**/u/alice")
    bob.tap("#follow-button")
    expect(bob.locator("#follow-button")).to_have_attribute("aria-pressed", "true")
    expect(bob.locator("#count-followers")).to_have_text("1")
    expect(bob.locator("#count-likes")).to_have_text("1")
    assert fits_the_screen(bob)
    bob.screenshot(path=ARTIFACTS / "community-profile-phone.png", full_page=True)
    bob.goto(studio + "/gallery")
    bob.tap("#tab-following")
    expect(bob.locator("#gallery .card")).to_have_count(1)
    bob.tap("#tab-trending")
    expect(bob.locator("#gallery .card")).to_have_count(1)

    admin = browser.new_context(extra_http_headers={"Authorization": f"Bearer {TOKEN}"})
    desk = admin.new_page()
    desk.goto(studio + "/admin#reports")
    report = desk.locator(".report-list li").first
    expect(report).to_contain_text("just checking")
    report.locator('[data-role="hide"]').focus()
    desk.keyboard.press("Enter")
    expect(desk.locator("#no-reports")).to_be_visible()
    desk.screenshot(path=ARTIFACTS / "community-admin.png", full_page=True)

    bob.goto(studio + f"/jobs/{job_id}")
    expect(bob.locator("h1")).to_have_text("Removed")
    alice.goto(studio + f"/jobs/{job_id}")
    expect(alice.locator("#hidden-note")).to_be_visible()                # its owner is told
    context.close()
    admin.close()
