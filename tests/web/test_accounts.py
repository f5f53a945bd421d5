"""Accounts end to end: the three sign-up modes, the admin's one-time links, disabling,
the profile with its avatar, the export, deleting an account with all it made, and signing
out back to an anonymous browser."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Callable

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from app.db.community import Account, Comment, Follow, Like
from app.db.models import Job
from app.people.accounts import DISABLED, SIGN_IN_FAILED
from app.settings import Settings
from app.web.main import create_app
from tests.support.images import png_bytes
from tests.web.community_support import (
    ADMIN,
    PASSWORD,
    TOKEN,
    browser,
    published,
    sign_up,
    studio,  # noqa: F401  (fixture)
)
from tests.web.conftest import stored_files, submit, wait_for


def rows(client: TestClient, model: type) -> int:
    with client.app.state.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_sign_up_can_be_closed_or_by_invitation_and_an_invite_works_once(
        make_settings: Callable[..., Settings]) -> None:
    with TestClient(create_app(make_settings(signup="closed", admin_token=TOKEN,
                                             run_worker=False))) as closed:
        refused = closed.post("/api/auth/signup", json={"username": "alice",
                                                        "password": PASSWORD})
        assert refused.status_code == 403 and "closed" in refused.json()["detail"]
        assert "Sign-up is closed" in closed.get("/signup").text
        assert rows(closed, Account) == 0
    with TestClient(create_app(make_settings(signup="invite", admin_token=TOKEN,
                                             run_worker=False))) as invited:
        without = invited.post("/api/auth/signup", json={"username": "alice",
                                                         "password": PASSWORD})
        assert without.status_code == 403 and "invitation" in without.json()["detail"]
        link = invited.post("/api/admin/invites", headers=ADMIN).json()["link"]
        assert "/signup#invite=" in link
        token = link.split("#invite=", 1)[1]
        assert invited.post("/api/auth/signup", json={"username": "alice", "password": PASSWORD,
                                                      "invite": "made-up"}).status_code == 403
        sign_up(invited, "alice", invite=token)
        again = browser(invited).post("/api/auth/signup", json={
            "username": "bob", "password": PASSWORD, "invite": token})
        assert again.status_code == 403 and "used already" in again.json()["detail"]
        # the page takes the whole link pasted, as the admin handed it over
        second = invited.post("/api/admin/invites", headers=ADMIN).json()["link"]
        page = browser(invited).post("/signup", data={"username": "bob", "password": PASSWORD,
                                                      "invite": second},
                                      follow_redirects=False)
        assert page.status_code == 303
        assert rows(invited, Account) == 2


def test_an_admin_password_link_works_once_and_signs_everyone_else_out(
        studio: TestClient) -> None:
    sign_up(studio, "alice")
    assert studio.post("/api/admin/accounts/alice/reset-link").status_code == 403
    first = studio.post("/api/admin/accounts/alice/reset-link", headers=ADMIN).json()["link"]
    link = studio.post("/api/admin/accounts/alice/reset-link", headers=ADMIN).json()["link"]
    assert "/account/reset#" in link
    owner = browser(studio)
    stale = owner.post("/api/auth/reset", json={"token": first.rsplit("#", 1)[1],
                                                "new": "brand new words"})
    assert stale.status_code == 403                         # a newer link replaced it
    short = owner.post("/api/auth/reset", json={"token": link, "new": "short"})
    assert short.status_code == 422                         # refused before it is spent
    done = owner.post("/api/auth/reset", json={"token": link, "new": "brand new words"})
    assert done.status_code == 200 and done.json()["username"] == "alice"
    assert studio.get("/api/auth/me").status_code == 401    # the old sign-in ended
    assert owner.post("/api/auth/reset", json={"token": link, "new": "another one here"}) \
        .status_code == 403                                 # once only
    assert browser(studio).post("/api/auth/signin", json={
        "username": "alice", "password": "brand new words"}).status_code == 200
    page = browser(studio).get("/account/reset")
    assert page.status_code == 200 and 'name="token"' in page.text


def test_disabling_signs_out_hides_the_results_and_enabling_shows_only_those_again(
        studio: TestClient) -> None:
    alice = studio
    sign_up(alice, "alice")
    shown, hidden_by_admin = published(alice), published(alice)
    alice.post(f"/api/admin/jobs/{hidden_by_admin['id']}/hide", json={"hidden": True},
               headers=ADMIN)
    visitor = browser(studio)
    assert visitor.post("/api/admin/accounts/alice/disable", json={"disabled": True},
                        headers=ADMIN).status_code == 204
    assert alice.get("/api/auth/me").status_code == 401
    assert visitor.get(f"/api/jobs/{shown['id']}").status_code == 410
    assert visitor.get("/api/gallery").json()["total"] == 0
    assert visitor.get("/u/alice").status_code == 404
    assert visitor.get("/u/alice", headers=ADMIN).status_code == 200
    right = visitor.post("/api/auth/signin", json={"username": "alice", "password": PASSWORD})
    assert right.status_code == 403 and right.json()["detail"] == DISABLED
    wrong = visitor.post("/api/auth/signin", json={"username": "alice", "password": "nope nope"})
    assert wrong.status_code == 401 and wrong.json()["detail"] == SIGN_IN_FAILED

    assert visitor.post("/api/admin/accounts/alice/disable", json={"disabled": False},
                        headers=ADMIN).status_code == 204
    assert visitor.get(f"/api/jobs/{shown['id']}").status_code == 200
    assert visitor.get(f"/api/jobs/{hidden_by_admin['id']}").status_code == 410
    assert [j["id"] for j in visitor.get("/api/gallery").json()["jobs"]] == [shown["id"]]


def test_a_profile_with_an_avatar_checked_like_any_upload(studio: TestClient) -> None:
    alice = studio
    sign_up(alice, "alice")
    profile = alice.patch("/api/account/profile",
                          json={"display_name": " Alice A. ", "bio": "I paint.\n\n\n\nA lot."})
    assert profile.json()["display_name"] == "Alice A."
    assert profile.json()["bio"] == "I paint.\n\nA lot."
    too_long = alice.patch("/api/account/profile", json={"bio": "x" * 501})
    assert too_long.status_code == 422 and "500" in too_long.json()["detail"]

    not_image = alice.put("/api/account/avatar",
                          files={"file": ("a.png", b"GIF89a not really", "image/png")})
    assert not_image.status_code in (415, 422)
    made = alice.put("/api/account/avatar", files={"file": ("me.png", png_bytes((300, 200)),
                                                            "image/png")})
    assert made.status_code == 200 and made.json()["avatar"] == "/u/alice/avatar"
    picture = browser(studio).get("/u/alice/avatar")
    assert picture.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(picture.content)).size == (256, 256)
    assert sum(f.startswith("avatars/") for f in stored_files(studio)) == 1
    page = browser(studio).get("/u/alice").text
    assert "Alice A." in page and "I paint." in page and 'src="/u/alice/avatar"' in page
    empty = alice.post("/account/avatar", files={"file": ("", b"", "application/octet-stream")})
    assert empty.status_code == 422 and "choose a picture" in empty.text
    by_form = alice.post("/account/avatar", files={"file": ("me.jpg", png_bytes((64, 90)),
                                                             "image/jpeg")},
                         follow_redirects=False)
    assert by_form.status_code == 303 and by_form.headers["location"].endswith("avatar-saved")
    assert sum(f.startswith("avatars/") for f in stored_files(studio)) == 1   # the old one went
    alice.delete("/api/account/avatar")
    assert not any(f.startswith("avatars/") for f in stored_files(studio))
    assert browser(studio).get("/u/alice/avatar").status_code == 404


def test_the_export_holds_every_result_and_its_settings(studio: TestClient) -> None:
    alice = studio
    sign_up(alice, "alice")
    job = published(alice, title="Harbour")
    export = alice.get("/api/account/export")
    assert export.status_code == 200 and export.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(export.content))
    results = [n for n in archive.namelist() if n.startswith("results/")]
    assert len(results) == 1 and results[0].endswith(f"{job['id']}.png")
    assert Image.open(io.BytesIO(archive.read(results[0]))).size == (job["width"], job["height"])
    settings = json.loads(archive.read("settings.json"))
    assert settings["account"] == "alice"
    assert settings["results"][0]["title"] == "Harbour"
    assert settings["results"][0]["options"]["engine"] == job["engine"]
    assert not any(".tmp" in f for f in stored_files(studio))       # the temporary ZIP went
    assert alice.get("/account/export").status_code == 200             # the page's link


def test_deleting_an_account_asks_first_then_takes_everything_it_made(
        studio: TestClient) -> None:
    alice = studio
    sign_up(alice, "alice")
    job = published(alice)
    alice.put("/api/account/avatar", files={"file": ("me.png", png_bytes(), "image/png")})
    bob = browser(studio)
    sign_up(bob, "bob")
    bobs = published(bob)
    alice.post(f"/api/jobs/{bobs['id']}/likes")
    alice.post(f"/api/jobs/{bobs['id']}/comments", json={"text": "hi bob"})
    alice.post("/api/users/bob/follow")
    bob.post(f"/api/jobs/{job['id']}/likes")
    alice.post("/api/collections", json={"title": "Mine"})

    page = alice.get("/account/delete")
    assert page.status_code == 200 and "Delete @alice?" in page.text
    wrong = alice.post("/account/delete", data={"confirm": "alice", "password": "not mine"})
    assert wrong.status_code == 403 and alice.get("/api/auth/me").status_code == 200
    gone = alice.post("/account/delete", data={"confirm": "Alice", "password": PASSWORD},
                      follow_redirects=False)
    assert gone.status_code == 303
    assert "dreamgen_session=;" in "".join(gone.headers.get_list("set-cookie"))
    assert alice.get("/api/auth/me").status_code == 401
    assert bob.get(f"/api/jobs/{job['id']}").status_code == 404
    with studio.app.state.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Job)
                              .where(Job.public_id == job["id"])) == 0
    assert rows(studio, Account) == 1
    assert rows(studio, Like) == rows(studio, Comment) == rows(studio, Follow) == 0
    assert not any(f.startswith("avatars/") for f in stored_files(studio))
    assert bob.get(f"/api/jobs/{bobs['id']}").json()["likes"] == 0
    sign_up(browser(studio), "alice")                       # the name is free again


def test_signing_out_leaves_an_anonymous_browser_whose_new_jobs_are_its_own(
        studio: TestClient) -> None:
    alice = studio
    sign_up(alice, "alice")
    mine = published(alice)
    assert alice.post("/signout", follow_redirects=False).status_code == 303
    assert alice.get("/api/me/jobs").json()["total"] == 0
    anonymous = wait_for(alice, submit(alice).json()["id"])
    assert anonymous["author"] is None
    alice.post("/api/auth/signin", json={"username": "alice", "password": PASSWORD})
    ids = [j["id"] for j in alice.get("/api/me/jobs").json()["jobs"]]
    assert ids == [anonymous["id"], mine["id"]]              # carried over on sign-in
    assert alice.post("/me/key/new").status_code == 409      # key links: not while signed in


def test_the_pages_work_without_javascript(studio: TestClient) -> None:
    visitor = studio
    redirect = visitor.get("/account", follow_redirects=False)
    assert redirect.status_code == 303 and redirect.headers["location"].startswith("/signin")
    made = visitor.post("/signup", data={"username": "alice", "password": PASSWORD,
                                         "next": "/gallery"}, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == "/gallery"
    assert "@alice" in visitor.get("/gallery").text
    bad = browser(studio).post("/signin", data={"username": "alice", "password": "wrong one"})
    assert bad.status_code == 401 and SIGN_IN_FAILED in bad.text
    assert 'value="alice"' in bad.text                      # the name as typed, again
    evil = browser(studio).post("/signin", data={"username": "alice", "password": PASSWORD,
                                                 "next": "//evil.example/"},
                                follow_redirects=False)
    assert evil.headers["location"] == "/me?notice=signed-in"
    saved = visitor.post("/account/profile", data={"display_name": "Al", "bio": "hello"},
                         follow_redirects=False)
    assert saved.status_code == 303
    assert re.search(r'value="Al"', visitor.get("/account").text)
