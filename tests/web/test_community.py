"""The community through HTTP, as two people use it: anonymous jobs carried into a new
account, following, liking, commenting, reporting, the admin hiding what was reported, and
a daily allowance that runs out and refills."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db.community import Account
from tests.web.community_support import (
    ADMIN,
    browser,
    published,
    sign_up,
    spent_yesterday,
    studio,  # noqa: F401  (fixture)
)
from tests.web.conftest import submit, wait_for


def owner_id_of(client: TestClient, name: str) -> str:
    with client.app.state.session_factory() as session:
        return session.scalar(select(Account.owner_id).where(Account.username == name))


def test_two_people_carry_over_follow_like_comment_report_and_the_admin_hides(
        studio: TestClient) -> None:
    alice = studio
    job = published(alice)                     # made before there was any account
    job_id = job["id"]
    assert job["author"] is None and job["likes"] == 0

    account = sign_up(alice, "alice")
    assert account["carried_over"] == 1
    mine = alice.get("/api/me/jobs").json()
    assert [j["id"] for j in mine["jobs"]] == [job_id]        # the job is the account's now
    assert alice.get(f"/api/jobs/{job_id}").json()["is_owner"] is True
    assert alice.get(f"/api/jobs/{job_id}").json()["author"] == "alice"

    bob = browser(studio)
    sign_up(bob, "bob")
    assert bob.get(f"/api/jobs/{job_id}").json()["is_owner"] is False
    assert bob.get("/api/gallery?tab=following").json()["total"] == 0
    profile = bob.post("/api/users/alice/follow").json()
    assert profile["followed"] is True and profile["followers"] == 1
    following = bob.get("/api/gallery?tab=following").json()
    assert [j["id"] for j in following["jobs"]] == [job_id]

    liked = bob.post(f"/api/jobs/{job_id}/likes")
    assert liked.status_code == 200 and liked.json() == {"likes": 1, "liked": True}
    assert bob.post(f"/api/jobs/{job_id}/likes").json()["likes"] == 1      # once each
    assert bob.get(f"/api/jobs/{job_id}").json()["likes"] == 1
    assert alice.get("/api/users/alice").json()["likes_received"] == 1
    trending = bob.get("/api/gallery?tab=trending").json()
    assert [j["id"] for j in trending["jobs"]] == [job_id]

    comment = bob.post(f"/api/jobs/{job_id}/comments", json={"text": "Lovely colours"})
    assert comment.status_code == 201
    assert comment.json()["author"] == "bob"
    listed = alice.get(f"/api/jobs/{job_id}/comments").json()
    assert [c["text"] for c in listed["comments"]] == ["Lovely colours"]
    assert listed["comments"][0]["can_delete"] is True        # the result's owner may
    page = browser(studio).get(f"/jobs/{job_id}").text          # anyone sees it
    assert "Lovely colours" in page and "1 like" in page

    report = bob.post(f"/api/jobs/{job_id}/reports", json={"reason": "not ok"})
    assert report.status_code == 201
    queue = bob.get("/api/admin/reports", headers=ADMIN).json()
    assert [(r["kind"], r["job_id"], r["reporter"]) for r in queue] == \
        [("result", job_id, "bob")]
    assert "not ok" in bob.get("/admin", headers=ADMIN).text
    assert bob.post(f"/api/admin/reports/{queue[0]['id']}",
                    json={"action": "hide"}).status_code == 403     # bob is no admin
    assert bob.post(f"/api/admin/reports/{queue[0]['id']}", json={"action": "hide"},
                    headers=ADMIN).status_code == 204
    assert bob.get(f"/api/jobs/{job_id}").status_code == 410
    assert bob.get("/api/gallery").json()["total"] == 0
    assert bob.get("/api/gallery?tab=following").json()["total"] == 0
    assert bob.get("/api/admin/reports", headers=ADMIN).json() == []
    assert alice.get(f"/api/jobs/{job_id}").json()["hidden"] is True   # its owner still sees


def test_a_daily_allowance_runs_out_says_when_it_refills_and_refills(studio: TestClient) -> None:
    alice = studio
    sign_up(alice, "alice")
    assert alice.get("/api/me/allowance").json()["daily"] is None     # no limit by default
    assert alice.put("/api/admin/allowances", json={"anonymous": 1, "accounts": 2},
                     headers=ADMIN).status_code == 204
    cost = alice.post("/api/jobs/cost", data={"engine": "microast", "size": "96"}).json()
    assert cost["units"] == 1 and cost["allowance"]["left"] == 2 and cost["enough"] is True

    for _ in range(2):
        wait_for(alice, submit(alice).json()["id"])
    assert alice.get("/api/me/allowance").json()["left"] == 0
    refused = submit(alice)
    assert refused.status_code == 429
    assert "refills at 00:00 UTC" in refused.json()["detail"]
    assert int(refused.headers["Retry-After"]) > 0
    assert alice.post("/api/jobs/cost", data={"engine": "microast", "size": "96"}) \
        .json()["enough"] is False

    anonymous = browser(studio)                       # a browser has its own allowance
    wait_for(anonymous, submit(anonymous).json()["id"])
    assert submit(anonymous).status_code == 429

    spent_yesterday(studio, owner_id_of(studio, "alice"))    # midnight passes for alice
    assert alice.get("/api/me/allowance").json()["left"] == 2
    assert submit(alice).status_code == 201
    assert submit(anonymous).status_code == 429               # not for the other browser


def test_an_account_of_its_own_and_a_painterly_job_costs_its_iterations(
        studio: TestClient) -> None:
    alice = studio
    sign_up(alice, "alice")
    assert alice.put("/api/admin/accounts/alice/allowance", json={"units": 150},
                     headers=ADMIN).status_code == 204
    fast = alice.post("/api/jobs/cost", data={"engine": "microast"}).json()
    slow = alice.post("/api/jobs/cost", data={"engine": "gatys-lite",
                                              "iterations": "200"}).json()
    assert fast["units"] == 1 and slow["units"] == 200
    assert slow["enough"] is False and slow["allowance"]["daily"] == 150
    clip = alice.post("/api/jobs/cost?frames=48", data={"engine": "microast"}).json()
    assert clip["per_frame"] == 1 and clip["units"] == 48
