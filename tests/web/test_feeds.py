"""The gallery's tabs and collections: Newest and Following page through a fixed moment so
new posts never shift a page, Trending ranks by likes with the documented time decay, and
collections show each visitor only what they may see."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db.base import utcnow
from app.db.community import Account, Like
from app.db.engine import begin_write
from app.db.models import Job, JobState
from app.people.feeds import trending_score
from app.settings import Settings
from app.web.main import create_app
from tests.web.community_support import (
    ADMIN,
    TOKEN,
    browser,
    published,
    sign_up,
    studio,  # noqa: F401  (fixture)
)


@pytest.fixture
def quiet(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    """No worker: the feeds are read from rows made here."""
    with TestClient(create_app(make_settings(run_worker=False,
                                             admin_token=TOKEN))) as client:
        yield client


def finished(client: TestClient, owner: str, hours_ago: float, **values: Any) -> str:
    """A finished public result of ``owner``, made ``hours_ago`` (its files are not
    needed by a list)."""
    with client.app.state.session_factory() as session:
        begin_write(session)
        when = utcnow() - timedelta(hours=hours_ago)
        job = Job(owner_id=owner, kind="image", engine="microast", options={},
                  content_path="uploads/x.png", style_paths=[], state=JobState.SUCCEEDED,
                  progress=1.0, message="done", result_path="results/x.png",
                  thumb_path="thumbs/x.jpg", created_at=when, started_at=when,
                  finished_at=when, width=8, height=8, **values)
        session.add(job)
        session.commit()
        return job.public_id


def likes(client: TestClient, job_id: str, accounts: list[int], hours_ago: float) -> None:
    with client.app.state.session_factory() as session:
        begin_write(session)
        job = session.scalar(select(Job).where(Job.public_id == job_id))
        for account_id in accounts:
            session.add(Like(job_id=job.id, account_id=account_id,
                             created_at=utcnow() - timedelta(hours=hours_ago)))
        session.commit()


def account(client: TestClient, name: str) -> Account:
    with client.app.state.session_factory() as session:
        return session.scalar(select(Account).where(Account.username == name))


def ids(page: dict) -> list[str]:
    return [j["id"] for j in page["jobs"]]


def test_newest_pages_keep_their_order_while_new_results_arrive(quiet: TestClient) -> None:
    made = [finished(quiet, "someone", hours_ago=30 - i) for i in range(30)]   # newest last
    first = quiet.get("/api/gallery").json()
    assert first["total"] == 30 and ids(first) == made[::-1][:24]
    for _ in range(5):                                   # five new results meanwhile
        finished(quiet, "someone", hours_ago=0)
    second = quiet.get(f"/api/gallery?page=2&as_of={first['as_of']}").json()
    assert second["total"] == 30 and ids(second) == made[::-1][24:]
    assert not set(ids(first)) & set(ids(second))
    # without the moment the second page would have shifted: the check above means it
    assert set(ids(quiet.get("/api/gallery?page=2").json())) & set(ids(first))
    page = quiet.get(f"/gallery?page=1&as_of={first['as_of']}").text
    assert f"as_of={first['as_of']}" in page              # the pager carries the moment


def test_trending_ranks_by_likes_with_a_time_decay_over_a_week(quiet: TestClient) -> None:
    people = []
    for name in ("ann", "ben", "cat"):
        sign_up(browser(quiet), name)
        people.append(account(quiet, name).id)
    old_popular = finished(quiet, "x", hours_ago=30)
    new_liked = finished(quiet, "x", hours_ago=1)
    unliked = finished(quiet, "x", hours_ago=0.5)
    last_month = finished(quiet, "x", hours_ago=24 * 30)
    likes(quiet, old_popular, people, hours_ago=20)           # 3 likes, 30 h old
    likes(quiet, new_liked, people[:1], hours_ago=0.5)       # 1 like, 1 h old
    likes(quiet, last_month, people, hours_ago=24 * 8)       # liked 8 days ago: too old
    # 1 / 3 ** 1.5 = 0.19 beats 3 / 32 ** 1.5 = 0.017: newer likes count for more
    assert trending_score(1, 1) > trending_score(3, 30)
    # a result so old that even many likes no longer lift it above fresher ones
    very_old = finished(quiet, "x", hours_ago=24 * 6)
    likes(quiet, very_old, people, hours_ago=1)
    page = quiet.get("/api/gallery?tab=trending").json()
    assert ids(page) == [new_liked, old_popular, very_old]
    assert unliked not in ids(page) and last_month not in ids(page)

    # as of the first page's moment, likes given later do not move anything
    likes(quiet, unliked, people, hours_ago=0)
    later = quiet.get(f"/api/gallery?tab=trending&as_of={page['as_of']}").json()
    assert ids(later) == ids(page)
    assert ids(quiet.get("/api/gallery?tab=trending").json())[0] == unliked


def test_following_shows_only_the_people_one_follows(quiet: TestClient) -> None:
    reader = quiet
    sign_up(reader, "reader")
    for name in ("followed", "other"):
        sign_up(browser(quiet), name)
    theirs = finished(quiet, account(quiet, "followed").owner_id, hours_ago=1)
    finished(quiet, account(quiet, "other").owner_id, hours_ago=0.5)
    assert reader.get("/api/gallery?tab=following").json()["total"] == 0
    reader.post("/api/users/followed/follow")
    assert ids(reader.get("/api/gallery?tab=following").json()) == [theirs]
    assert "Following ✓" in reader.get("/u/followed").text
    page = browser(quiet).get("/gallery?tab=following").text
    assert 'id="following-sign-in"' in page and 'aria-current="page"' in page
    reader.delete("/api/users/followed/follow")
    assert reader.get("/api/gallery?tab=following").json()["total"] == 0


def test_collections_show_each_visitor_what_they_may_see(studio: TestClient) -> None:
    alice = studio
    sign_up(alice, "alice")
    public_result = published(alice)
    own_unlisted = published(alice, visibility="unlisted")
    bob = browser(studio)
    sign_up(bob, "bob")
    bobs_unlisted = published(bob, visibility="unlisted")
    bobs_public = published(bob)

    album = alice.post("/api/collections", json={"title": "Album",
                                                 "visibility": "private"}).json()
    for job in (public_result, own_unlisted, bobs_public):
        assert alice.post(f"/api/collections/{album['id']}/items",
                          json={"job": job["id"]}).status_code == 200
    refused = alice.post(f"/api/collections/{album['id']}/items",
                         json={"job": bobs_unlisted["id"]})
    assert refused.status_code == 409                      # another's unlisted result: no

    visitor = browser(studio)
    assert visitor.get(f"/api/collections/{album['id']}").status_code == 404   # private
    assert visitor.get("/api/users/alice/collections").json() == []
    shared = visitor.get(f"/api/collections/shared/{album['share'].rsplit('/', 1)[1]}").json()
    assert {j["id"] for j in shared["results"]["jobs"]} == \
        {public_result["id"], own_unlisted["id"], bobs_public["id"]}
    assert shared["collection"]["share"] is None               # only its owner sees the link
    assert visitor.get(album["share"]).status_code == 200       # the page of the link

    alice.patch(f"/api/collections/{album['id']}", json={"visibility": "public"})
    assert [c["title"] for c in visitor.get("/api/users/alice/collections").json()] == ["Album"]
    assert "Album" in visitor.get("/u/alice").text
    # what the admin hides leaves the collection for everyone
    bob.post(f"/api/admin/jobs/{bobs_public['id']}/hide", json={"hidden": True}, headers=ADMIN)
    seen = visitor.get(f"/api/collections/{album['id']}").json()
    assert seen["collection"]["count"] == 2 and bobs_public["id"] not in ids(seen["results"])

    # the result page's form: into a new collection by its title
    made = alice.post("/collections/add", data={"job": public_result["id"],
                                                "new_title": "Second"}, follow_redirects=False)
    assert made.status_code == 303 and "notice=collected" in made.headers["location"]
    assert [c["title"] for c in alice.get("/api/collections").json()] == ["Second", "Album"]
