"""The community against people who mean harm: requests forged from other sites against
every new form and endpoint, session fixation, guessing passwords, finding out which names
have accounts, script in names, bios, comments and collection titles, and one person trying
every new endpoint on another's things. Each attack must change nothing in the database."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db.base import Base
from app.people import accounts
from app.web.middleware.security import CROSS_SITE_MESSAGE
from app.web.routes import (
    account,
    allowance,
    auth,
    collections,
    community_admin,
    people,
    social,
)
from tests.web.community_support import (
    ADMIN,
    PASSWORD,
    browser,
    published,
    sign_up,
    studio,  # noqa: F401  (fixture)
)

COMMUNITY_ROUTERS = (auth, account, people, social, collections, allowance, community_admin)
SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def database_state(client: TestClient) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (jobs without their ever-moving progress columns): what
    must not change when an attack is refused."""
    state: dict[str, list[tuple[Any, ...]]] = {}
    with client.app.state.session_factory() as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if c.name not in
                       ("updated_at", "progress", "message", "eta_at", "last_heartbeat")]
            state[table.name] = sorted(map(tuple, session.execute(select(*columns)).all()),
                                       key=repr)
    return state


@pytest.fixture
def scene(studio: TestClient) -> dict[str, Any]:
    """Alice with a public result, a comment on it, a private and a public collection
    holding it; Bob with a comment of his own and an open report."""
    alice = studio
    sign_up(alice, "alice")
    job = published(alice)
    unlisted = published(alice, visibility="unlisted")
    comment = alice.post(f"/api/jobs/{job['id']}/comments", json={"text": "mine"}).json()
    private = alice.post("/api/collections", json={"title": "Secret"}).json()
    public = alice.post("/api/collections", json={"title": "Best",
                                                  "visibility": "public"}).json()
    for collection in (private, public):
        assert alice.post(f"/api/collections/{collection['id']}/items",
                          json={"job": job["id"]}).status_code == 200
    bob = browser(studio)
    sign_up(bob, "bob")
    bob_comment = bob.post(f"/api/jobs/{job['id']}/comments", json={"text": "bob's"}).json()
    report = bob.post(f"/api/comments/{comment['id']}/reports", json={}).json()
    return {"alice": alice, "bob": bob, "job": job, "unlisted": unlisted,
            "comment": comment, "bob_comment": bob_comment, "private": private,
            "public": public, "report": report}


def filled(path: str, scene: dict[str, Any]) -> str:
    """A route's path with real ids of the scene in its parameters."""
    values = {"job_id": scene["job"]["id"], "comment_id": scene["comment"]["id"],
              "collection_id": scene["public"]["id"], "name": "alice",
              "report_id": str(scene["report"]["id"]),
              "token": scene["private"]["share"] or "x"}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def changing_routes() -> list[tuple[str, str]]:
    """Every state-changing (method, path) of the community's routers, and the owner-key
    forms that signing in changed."""
    found = [(method, route.path) for module in COMMUNITY_ROUTERS
             for route in module.router.routes for method in sorted(route.methods)
             if method not in ("GET", "HEAD")]
    return found + [("POST", "/me/key/new"), ("POST", "/me/key"), ("POST", "/me/key/forget")]


# ----------------------------------------------------------------------------- CSRF
@pytest.mark.parametrize("forged", [{"Sec-Fetch-Site": "cross-site"},
                                    {"Origin": "https://evil.example"}],
                         ids=["sec-fetch-site", "origin"])
def test_every_new_form_and_endpoint_refuses_a_request_forged_from_another_site(
        scene: dict[str, Any], forged: dict[str, str]) -> None:
    routes = changing_routes()
    assert len(routes) >= 40, routes             # the walk really covers the forms
    for client in (scene["alice"], scene["bob"]):
        before = database_state(client)
        for method, path in routes:
            response = client.request(method, filled(path, scene), headers={**forged, **ADMIN},
                                      data={"text": "forged", "title": "forged",
                                            "username": "mallory", "password": PASSWORD})
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["detail"] == CROSS_SITE_MESSAGE, (method, path)
        assert database_state(client) == before
        assert client.get("/api/auth/me").status_code == 200      # still signed in


def test_sign_in_and_sign_up_forms_carry_no_ambient_authority_across_sites(
        studio: TestClient) -> None:
    # the session cookie is Lax: a cross-site POST never carries it; and the forms
    # themselves are refused before they are read
    made = studio.post("/api/auth/signup", json={"username": "carol", "password": PASSWORD})
    cookie = next(c for c in made.headers.get_list("set-cookie")
                  if c.startswith("dreamgen_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert studio.post("/signout", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert studio.get("/api/auth/me").json()["username"] == "carol"


# ----------------------------------------------------------------------------- sessions
def session_of(client: TestClient) -> str:
    return client.cookies.get("dreamgen_session") or ""


def plant(client: TestClient, session_id: str) -> None:
    """Put ``session_id`` in the browser's cookie jar, as an attacker would."""
    client.cookies.set("dreamgen_session", session_id, domain="testserver.local")


def test_the_session_id_changes_on_every_sign_in_and_a_planted_one_never_counts(
        studio: TestClient) -> None:
    sign_up(studio, "alice")
    first = session_of(studio)
    victim = browser(studio)
    plant(victim, "planted-by-an-attacker-0123456789abcdef")
    assert victim.get("/api/auth/me").status_code == 401         # made up: nobody
    assert victim.post("/api/auth/signin", json={"username": "alice",
                                                 "password": PASSWORD}).status_code == 200
    second = session_of(victim)
    assert second not in ("", first, "planted-by-an-attacker-0123456789abcdef")

    # an attacker's own valid session planted in the victim's browser ends on sign-in
    attacker = browser(studio)
    sign_up(attacker, "mallory")
    planted = session_of(attacker)
    plant(victim, planted)
    assert victim.get("/api/auth/me").json()["username"] == "mallory"
    victim.post("/api/auth/signin", json={"username": "alice", "password": PASSWORD})
    assert session_of(victim) != planted
    assert victim.get("/api/auth/me").json()["username"] == "alice"
    assert attacker.get("/api/auth/me").status_code == 401       # the planted id is dead

    # signing in again rotates once more; signing out ends the session for good
    victim.post("/api/auth/signin", json={"username": "alice", "password": PASSWORD})
    third = session_of(victim)
    assert third != second
    old = browser(studio)
    plant(old, second)
    assert old.get("/api/auth/me").status_code == 200            # other sign-ins live on
    assert victim.post("/api/auth/signout").status_code == 204
    gone = browser(studio)
    plant(gone, third)
    assert gone.get("/api/auth/me").status_code == 401


def test_changing_the_password_signs_every_other_browser_out(studio: TestClient) -> None:
    sign_up(studio, "alice")
    phone = browser(studio)
    phone.post("/api/auth/signin", json={"username": "alice", "password": PASSWORD})
    assert studio.post("/api/account/password",
                       json={"current": "not it at all", "new": "a new long one"}) \
        .status_code == 403
    assert phone.get("/api/auth/me").status_code == 200
    assert studio.post("/api/account/password",
                       json={"current": PASSWORD, "new": "a new long one"}).status_code == 204
    assert phone.get("/api/auth/me").status_code == 401
    assert studio.get("/api/auth/me").status_code == 200
    assert phone.post("/api/auth/signin", json={"username": "alice",
                                                "password": "a new long one"}).status_code == 200


# ----------------------------------------------------------------------------- guessing
def counting_checks(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Record every password check sign-in makes (the Argon2 work), by its stored hash."""
    checked: list[str | None] = []
    real = accounts.verify_or_waste

    def counted(stored_hash: str | None, password: str) -> bool:
        checked.append(stored_hash)
        return real(stored_hash, password)
    monkeypatch.setattr(accounts, "verify_or_waste", counted)
    return checked


def test_the_tenth_wrong_password_in_a_minute_is_refused_without_checking(
        studio: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    sign_up(studio, "alice")
    checked = counting_checks(monkeypatch)
    guesser = browser(studio)
    for attempt in range(9):
        wrong = guesser.post("/api/auth/signin",
                             json={"username": "alice", "password": f"guess {attempt}"})
        assert wrong.status_code == 401
    assert len(checked) == 9
    tenth = guesser.post("/api/auth/signin", json={"username": "ALICE", "password": PASSWORD})
    assert tenth.status_code == 429                   # even the right one: never checked
    assert 0 < int(tenth.headers["Retry-After"]) <= 60
    assert len(checked) == 9
    assert "dreamgen_session" not in guesser.cookies
    page = guesser.post("/signin", data={"username": "alice", "password": PASSWORD})
    assert page.status_code == 429 and "too many wrong passwords" in page.text
    assert len(checked) == 9


def test_one_address_guessing_many_names_is_stopped_too(
        studio: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    checked = counting_checks(monkeypatch)
    guesser = browser(studio)
    answers = [guesser.post("/api/auth/signin", json={"username": f"name{i}",
                                                      "password": "password1"}).status_code
               for i in range(31)]
    assert answers[:30] == [401] * 30 and answers[30] == 429
    assert len(checked) == 30


def test_an_unknown_name_and_a_wrong_password_get_the_same_answer_after_the_same_work(
        studio: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    sign_up(studio, "alice")
    checked = counting_checks(monkeypatch)
    answers = []
    for name in ("alice", "nobody-here", "alice", "x" * 40, "nobody-here"):
        response = browser(studio).post("/api/auth/signin",
                                        json={"username": name, "password": "wrong guess"})
        cookies = sorted(c.split("=", 1)[0] for c in response.headers.get_list("set-cookie"))
        answers.append((response.status_code, response.json(), cookies))   # a new browser's
    assert len(set(map(repr, answers))) == 1
    assert answers[0][:2] == (401, {"detail": accounts.SIGN_IN_FAILED})
    # one Argon2 check each: the real hash for alice, the decoy (same cost) for the others
    assert len(checked) == 5
    real = checked[0]
    assert real is not None and checked[2] == real
    assert checked[1] is None and checked[3] is None and checked[4] is None
    from app.people import passwords

    decoy = passwords._decoy_hash()
    assert decoy.rsplit("$", 2)[0] == real.rsplit("$", 2)[0]       # same algorithm and cost
    page = browser(studio).post("/signin", data={"username": "nobody-here",
                                                 "password": "wrong guess"})
    page_known = browser(studio).post("/signin", data={"username": "alice",
                                                       "password": "wrong guess"})
    assert page.status_code == page_known.status_code == 401
    assert accounts.SIGN_IN_FAILED in page.text and accounts.SIGN_IN_FAILED in page_known.text


# ----------------------------------------------------------------------------- stored XSS
def assert_escaped(text: str, where: str) -> None:
    assert "<script>alert" not in text and "<img src=x" not in text, where
    assert "&lt;script&gt;alert" in text, where


def test_script_in_names_bios_comments_and_collection_titles_is_only_ever_text(
        studio: TestClient) -> None:
    alice = studio
    bad = alice.post("/api/auth/signup", json={"username": "<script>", "password": PASSWORD})
    assert bad.status_code == 422
    sign_up(alice, "alice")
    job = published(alice)
    assert alice.patch("/api/account/profile",
                       json={"display_name": SCRIPT[:60], "bio": SCRIPT}).status_code == 200
    comment = alice.post(f"/api/jobs/{job['id']}/comments", json={"text": SCRIPT})
    assert comment.status_code == 201 and comment.json()["text"] == SCRIPT
    collection = alice.post("/api/collections", json={"title": SCRIPT,
                                                      "visibility": "public"}).json()
    alice.post(f"/api/collections/{collection['id']}/items", json={"job": job["id"]})
    bob = browser(studio)
    sign_up(bob, "bob")
    bob.post(f"/api/comments/{comment.json()['id']}/reports", json={"reason": SCRIPT})

    visitor = browser(studio)
    pages = {"profile": visitor.get("/u/alice").text,
             "result": visitor.get(f"/jobs/{job['id']}").text,
             "share card": visitor.get(job["links"]["share"]).text,
             "collection": visitor.get(f"/collections/{collection['id']}").text,
             "collection share": alice.get(collection["share"]).text,
             "own collections": alice.get("/collections").text,
             "account": alice.get("/account").text,
             "admin": visitor.get("/admin", headers=ADMIN).text}
    for where, text in pages.items():
        assert_escaped(text, where)
    card = re.search(r'<meta property="og:description" content="([^"]*)"', pages["share card"])
    assert card and "&lt;script&gt;" in card.group(1)         # the share card's text, escaped

    # JSON consumers get the text as typed, as JSON that no browser runs
    listed = visitor.get(f"/api/jobs/{job['id']}/comments")
    assert listed.json()["comments"][0]["text"] == SCRIPT
    assert listed.headers["content-type"] == "application/json"
    assert listed.headers["x-content-type-options"] == "nosniff"
    assert visitor.get("/api/users/alice").json()["bio"] == SCRIPT


# ----------------------------------------------------------------------------- others' things
def test_every_new_endpoint_refuses_to_touch_another_persons_things(
        scene: dict[str, Any]) -> None:
    bob, job = scene["bob"], scene["job"]
    private, public = scene["private"]["id"], scene["public"]["id"]
    comment = scene["comment"]["id"]
    before = database_state(bob)
    attempts = [
        ("DELETE", f"/api/comments/{comment}", None, 403),
        ("POST", f"/comments/{comment}/delete", None, 403),
        ("GET", f"/api/collections/{private}", None, 404),
        ("GET", f"/collections/{private}", None, 404),
        ("PATCH", f"/api/collections/{private}", {"title": "mine now"}, 404),
        ("PATCH", f"/api/collections/{public}", {"title": "mine now"}, 403),
        ("DELETE", f"/api/collections/{private}", None, 404),
        ("DELETE", f"/api/collections/{public}", None, 403),
        ("POST", f"/api/collections/{public}/items", {"job": job["id"]}, 403),
        ("DELETE", f"/api/collections/{public}/items/{job['id']}", None, 403),
        ("POST", f"/collections/{public}/edit", {"title": "x"}, 403),
        ("POST", f"/collections/{public}/remove", {"job": job["id"]}, 403),
        ("POST", f"/collections/{public}/delete", None, 403),
        ("POST", f"/collections/{private}/delete", None, 404),
        ("POST", "/collections/add", {"job": job["id"], "collection": private}, 404),
        ("POST", "/api/account/delete", {"password": PASSWORD, "confirm": "alice"}, 403),
        ("POST", f"/api/jobs/{scene['unlisted']['id']}/likes", None, 409),
        ("POST", f"/api/jobs/{scene['unlisted']['id']}/comments", {"text": "hi"}, 409),
        ("POST", f"/api/jobs/{scene['unlisted']['id']}/reports", {}, 409),
        ("POST", "/api/users/bob/follow", None, 409),
        ("GET", "/api/admin/reports", None, 403),
        ("POST", f"/api/admin/reports/{scene['report']['id']}", {"action": "delete"}, 403),
        ("POST", "/api/admin/accounts/alice/disable", {"disabled": True}, 403),
        ("POST", "/api/admin/accounts/alice/reset-link", None, 403),
        ("PUT", "/api/admin/accounts/bob/allowance", {"units": 1e6}, 403),
        ("PUT", "/api/admin/allowances", {"anonymous": 0, "accounts": 0}, 403),
        ("POST", "/api/admin/invites", None, 403),
        ("POST", "/admin/accounts/alice/disable", {"disabled": "true"}, 403),
        ("POST", f"/admin/reports/{scene['report']['id']}", {"action": "delete"}, 403),
    ]
    for method, path, body, status in attempts:
        form = method == "POST" and not path.startswith("/api/")
        response = bob.request(method, path, **({"data": body} if form else {"json": body}))
        assert response.status_code == status, (method, path, response.status_code,
                                                response.text[:300])
    assert database_state(bob) == before

    # taking one's own like back never takes another's; one's export holds only one's own
    scene["alice"].post(f"/api/jobs/{job['id']}/likes")
    assert bob.delete(f"/api/jobs/{job['id']}/likes").json() == {"likes": 1, "liked": False}
    export = zipfile.ZipFile(io.BytesIO(bob.get("/api/account/export").content))
    assert [n for n in export.namelist() if n.startswith("results/")] == []

    # nobody signed in may like, comment, follow, report or collect at all
    anonymous = browser(scene["bob"])
    for method, path, body in [("POST", f"/api/jobs/{job['id']}/likes", None),
                               ("POST", f"/api/jobs/{job['id']}/comments", {"text": "hi"}),
                               ("POST", f"/api/jobs/{job['id']}/reports", {}),
                               ("POST", "/api/users/alice/follow", None),
                               ("POST", "/api/collections", {"title": "t"}),
                               ("PATCH", "/api/account/profile", {"bio": "x"})]:
        assert anonymous.request(method, path, json=body).status_code == 401, path
