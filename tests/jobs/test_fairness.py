"""The fair queue: turns between people, oldest first within a person, the admin's priority,
the same order in the claim (SQL, on SQLite and PostgreSQL) and in the pages' estimates, a
clip's turn given back between segments, and the per-person cap."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from app.db.models import Job, JobState
from app.jobs import queue
from app.jobs.costs import check_room_in_line, job_seconds, waiting_seconds
from app.jobs.estimates import RunTimes
from app.jobs.fairness import Waiting, fair_order, jobs_ahead, lines_by_person
from app.refusals import Refused
from tests.jobs.conftest import enqueue


def finish(engine, job: Job) -> None:  # type: ignore[no-untyped-def]
    queue.finish_job(engine, job.id, job.claim_token, result_path="results/r.png",
                     thumb_path=None, width=8, height=8)


def claim_all(engine) -> list[Job]:  # type: ignore[no-untyped-def]
    """Claim and finish jobs one at a time (one worker) until none is left."""
    order = []
    while (job := queue.claim_next_job(engine, "w")) is not None:
        order.append(job)
        finish(engine, job)
    return order


def test_a_person_with_one_job_waits_behind_one_job_of_each_other_person(db) -> None:
    engine, factory = db
    ann = enqueue(factory, 6, owner_id="ann")
    (bo,) = enqueue(factory, 1, owner_id="bo")
    (cy,) = enqueue(factory, 1, owner_id="cy")
    order = [j.id for j in claim_all(engine)]
    assert order.index(bo.id) < order.index(ann[1].id)       # before Ann's second
    assert order.index(cy.id) < order.index(ann[2].id)       # one of Ann's, then Bo, then Cy
    assert order == [ann[0].id, bo.id, cy.id, *(j.id for j in ann[1:])]


def test_the_admins_priority_goes_first(db) -> None:
    engine, factory = db
    enqueue(factory, 3, owner_id="ann")
    (urgent,) = enqueue(factory, 1, owner_id="bo")
    with factory() as session:
        session.execute(update(Job).where(Job.id == urgent.id).values(priority=5))
        session.commit()
    assert queue.claim_next_job(engine, "w").id == urgent.id


def test_the_pages_see_the_order_the_workers_take(db) -> None:
    """queue_position and the estimates' jobs ahead play the claim forward: the same order."""
    engine, factory = db
    ann = enqueue(factory, 4, owner_id="ann")
    bo = enqueue(factory, 2, owner_id="bo")
    with factory() as session:
        first = queue.claim_next_job(engine, "w")            # Ann's first, now running
        session.rollback()
        positions = {j.id: queue.queue_position(session, session.get(Job, j.id))
                     for j in [*ann[1:], *bo]}
        assert [w.id for w in jobs_ahead(session, session.get(Job, ann[2].id))] == \
            [bo[0].id, ann[1].id, bo[1].id]
    finish(engine, first)
    claimed = [j.id for j in claim_all(engine)]
    assert sorted(positions, key=positions.get) == claimed   # the pages were right
    assert sorted(positions.values()) == list(range(1, len(claimed) + 1))


def test_fair_order_is_round_robin_and_remembers_who_was_served() -> None:
    queued = [Waiting(1, "ann", 0), Waiting(2, "ann", 0), Waiting(3, "bo", 0),
              Waiting(4, "cy", 0), Waiting(5, "bo", 0)]
    assert [w.id for w in fair_order(queued, {})] == [1, 3, 4, 2, 5]
    recently = datetime(2026, 12, 7, tzinfo=timezone.utc)
    served = {"ann": recently, "bo": recently - timedelta(hours=1)}   # Cy: never served
    assert [w.id for w in fair_order(queued, served)] == [4, 3, 1, 5, 2]
    assert [w.id for w in fair_order([*queued, Waiting(6, "cy", 3)], {})][0] == 6


def test_giving_way_keeps_the_attempt(db) -> None:
    engine, factory = db
    (clip,) = enqueue(factory, 1, owner_id="ann", kind="video")
    enqueue(factory, 1, owner_id="bo")
    running = queue.claim_next_job(engine, "w")
    assert running.id == clip.id and running.attempts == 1
    assert queue.others_waiting(engine, "ann") and not queue.others_waiting(engine, "bo")
    assert queue.release_job(engine, running.id, running.claim_token, "waiting for its turn",
                             yielded=True)
    bo_job = queue.claim_next_job(engine, "w")
    assert bo_job.owner_id == "bo"                           # Bo's turn came between
    finish(engine, bo_job)
    again = queue.claim_next_job(engine, "w")
    assert again.id == clip.id and again.attempts == 1       # no attempt spent on giving way


def test_the_admin_sees_each_persons_line(db) -> None:
    engine, factory = db
    enqueue(factory, 2, owner_id="ann")
    enqueue(factory, 1, owner_id="bo")
    queue.claim_next_job(engine, "w")
    with factory() as session:
        lines = {line.owner_id: line for line in lines_by_person(session)}
    assert len(lines["ann"].running) == 1 and [p for p, _ in lines["ann"].queued] == [2]
    assert [p for p, _ in lines["bo"].queued] == [1]


def test_one_persons_waiting_work_is_capped_in_time_not_in_jobs(db) -> None:
    """A painterly picture weighs far more than a fast one; past the cap, a plain refusal."""
    engine, factory = db
    times = RunTimes()
    fast = job_seconds(times, "microast", {"size": 512})
    painterly = job_seconds(times, "gatys-lite", {"size": 512, "iterations": 300})
    clip = job_seconds(times, "microast", {"size": 512}, frames=240)
    assert painterly > 20 * fast and clip == pytest.approx(240 * fast)
    enqueue(factory, 3, owner_id="ann", engine="gatys-lite",
            options={"size": 512, "iterations": 300})
    with factory() as session:
        waiting = waiting_seconds(session, "ann")
        assert waiting == pytest.approx(3 * painterly)
        check_room_in_line(session, "bo", "gatys-lite", {"size": 512, "iterations": 300}, 1,
                           cap_minutes=waiting / 60)          # Bo has nothing waiting
        with pytest.raises(Refused, match=r"you have about .* of work waiting here") as refused:
            check_room_in_line(session, "ann", "microast", {"size": 512}, 1,
                               cap_minutes=waiting / 60)
        assert refused.value.status_code == 429 and "Retry-After" in refused.value.headers
        check_room_in_line(session, "ann", "microast", {"size": 512}, 1, cap_minutes=0)
        # alone in line, a job longer than the cap is still taken (a long clip can run)
        check_room_in_line(session, "cy", "microast", {"size": 512}, 10_000, cap_minutes=1)
