"""Leases on real databases (a SQLite file and PostgreSQL): heartbeats on the database's
clock, jobs of silent workers taken back once (fencing the old holder), jobs of workers
with no row, the attempt limit, stale rows forgotten, and a worker cut off from the
database noticing it."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from sqlalchemy import create_engine, update

from app.db.clock import seconds_ago
from app.db.models import Job, JobState, WorkerRecord
from app.jobs import leases, queue
from app.jobs.leases import WorkerIdentity
from app.jobs.worker import JobCancelToken
from tests.jobs.conftest import Database, enqueue

LEASE_S = 30.0


def identity(name: str) -> WorkerIdentity:
    return WorkerIdentity(id=f"host-{name}", host="host", pid=1000, device="cpu")


def age_heartbeat(engine, worker_id: str, seconds: float) -> None:
    """Pretend ``worker_id`` last heartbeat ``seconds`` ago (on the database's clock)."""
    with queue.write_session(engine) as session:
        session.execute(update(WorkerRecord).where(WorkerRecord.id == worker_id)
                        .values(last_heartbeat=seconds_ago(seconds)))
        session.commit()


def age_job(engine, job_id: int, seconds: float) -> None:
    with queue.write_session(engine) as session:
        session.execute(update(Job).where(Job.id == job_id)
                        .values(updated_at=seconds_ago(seconds)))
        session.commit()


def statuses(factory) -> dict[str, leases.WorkerStatus]:
    with factory() as session:
        return {w.id: w for w in leases.list_workers(session, LEASE_S)}


def test_heartbeat_ages_are_measured_on_the_database_clock(db: Database) -> None:
    engine, factory = db
    leases.register_workers(engine, [identity("a"), identity("b")])
    age_heartbeat(engine, "host-b", 100)
    listed = statuses(factory)
    assert listed["host-a"].alive and listed["host-a"].heartbeat_age_s < 5
    assert not listed["host-b"].alive and 95 < listed["host-b"].heartbeat_age_s < 110
    leases.heartbeat(engine, [identity("b")])
    assert statuses(factory)["host-b"].alive


def test_claim_names_the_job_in_the_worker_row(db: Database) -> None:
    engine, factory = db
    leases.register_workers(engine, [identity("a")])
    (job,) = enqueue(factory, 1)
    queue.claim_next_job(engine, "host-a")
    listed = statuses(factory)["host-a"]
    assert (listed.job_id, listed.job_public_id) == (job.id, job.public_id)
    leases.set_current_job(engine, "host-a", None)
    assert statuses(factory)["host-a"].job_id is None


def test_a_dead_workers_row_no_longer_names_the_job_another_worker_took_over(
        db: Database) -> None:
    """The admin's workers list (and ``dreamgen workers``) name a job only beside the
    worker that holds it: not beside the dead one it was taken from, neither while the
    new worker runs it nor after it finished it."""
    engine, factory = db
    leases.register_workers(engine, [identity("dead"), identity("b")])
    (job,) = enqueue(factory, 1)
    queue.claim_next_job(engine, "host-dead")
    age_heartbeat(engine, "host-dead", LEASE_S + 1)
    assert leases.take_back_expired_jobs(engine, LEASE_S, max_attempts=3) == 1
    listed = statuses(factory)
    assert (listed["host-dead"].job_id, listed["host-dead"].job_public_id) == (None, None)
    again = queue.claim_next_job(engine, "host-b")
    assert again.id == job.id
    listed = statuses(factory)
    assert listed["host-dead"].job_public_id is None
    assert listed["host-b"].job_public_id == job.public_id
    assert queue.finish_job(engine, job.id, again.claim_token, result_path="results/r.png",
                            thumb_path=None, width=1, height=1)
    leases.set_current_job(engine, "host-b", None)
    listed = statuses(factory)
    assert listed["host-dead"].job_public_id is None and listed["host-b"].job_id is None
    with factory() as session:
        assert session.get(WorkerRecord, "host-dead").job_id is None


def test_a_stale_row_naming_a_job_another_worker_finished_lists_no_job(db: Database) -> None:
    """Rows written before takeovers cleared them: the list checks who holds the job."""
    engine, factory = db
    leases.register_workers(engine, [identity("dead"), identity("b")])
    (job,) = enqueue(factory, 1)
    claimed = queue.claim_next_job(engine, "host-b")
    queue.finish_job(engine, job.id, claimed.claim_token, result_path="results/r.png",
                     thumb_path=None, width=1, height=1)
    leases.set_current_job(engine, "host-dead", job.id)        # an old row, left behind
    listed = statuses(factory)["host-dead"]
    assert (listed.job_id, listed.job_public_id) == (None, None)


def test_jobs_of_a_silent_worker_go_back_once_and_its_token_is_fenced(db: Database) -> None:
    engine, factory = db
    leases.register_workers(engine, [identity("a"), identity("b")])
    mine, theirs = enqueue(factory, 2)
    first = queue.claim_next_job(engine, "host-a")
    live = queue.claim_next_job(engine, "host-b")
    assert leases.take_back_expired_jobs(engine, LEASE_S, max_attempts=3) == 0   # all fresh
    age_heartbeat(engine, "host-a", LEASE_S + 1)
    assert leases.take_back_expired_jobs(engine, LEASE_S, max_attempts=3) == 1
    assert leases.take_back_expired_jobs(engine, LEASE_S, max_attempts=3) == 0   # once
    with factory() as session:
        back = session.get(Job, mine.id)
        assert (back.state, back.worker_id, back.claim_token, back.attempts) == (
            JobState.QUEUED, None, None, 1)
        assert "stopped answering" in back.message
        assert session.get(Job, theirs.id).state == JobState.RUNNING      # b is alive
    stale = first.claim_token
    assert not queue.update_progress(engine, mine.id, stale, 0.5, "late progress")
    assert not queue.finish_job(engine, mine.id, stale, result_path="results/late.png",
                                thumb_path=None, width=1, height=1)
    assert queue.claim_status(engine, mine.id, stale) == "lost"
    again = queue.claim_next_job(engine, "host-b")
    assert again.id == mine.id and again.attempts == 2
    assert queue.claim_status(engine, live.id, live.claim_token) == "ours"


def test_two_keepers_racing_for_one_job_cannot_both_win(db: Database) -> None:
    engine, factory = db
    leases.register_workers(engine, [identity("a")])
    enqueue(factory, 1)
    job = queue.claim_next_job(engine, "host-a")
    assert not leases.take_back_job(engine, job.id, job.claim_token, job.attempts, 3, LEASE_S)
    age_heartbeat(engine, "host-a", LEASE_S + 1)          # the lease is checked in the UPDATE
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(
        leases.take_back_job(engine, job.id, job.claim_token, job.attempts, 3, LEASE_S)))
        for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [False, False, False, True]


def test_a_job_that_used_its_attempts_fails_with_a_plain_message(db: Database) -> None:
    engine, factory = db
    leases.register_workers(engine, [identity("a")])
    (job,) = enqueue(factory, 1)
    for _ in range(2):
        queue.claim_next_job(engine, "host-a")
        age_heartbeat(engine, "host-a", LEASE_S + 1)
        assert leases.take_back_expired_jobs(engine, LEASE_S, max_attempts=2) == 1
        leases.heartbeat(engine, [identity("a")])
    with factory() as session:
        failed = session.get(Job, job.id)
    assert failed.state == JobState.FAILED and failed.claim_token is None
    assert "stopped answering" in failed.error and "2 times" in failed.error
    assert failed.finished_at is not None


def test_jobs_of_workers_without_a_row_go_back_after_a_lease(db: Database) -> None:
    """Rows from before the workers table, or a worker whose row was deleted."""
    engine, factory = db
    (job,) = enqueue(factory, 1)
    queue.claim_next_job(engine, "old-host-77-w0")           # no workers row at all
    assert leases.take_back_expired_jobs(engine, LEASE_S, max_attempts=3) == 0   # recent
    age_job(engine, job.id, LEASE_S + 1)
    assert leases.take_back_expired_jobs(engine, LEASE_S, max_attempts=3) == 1
    with factory() as session:
        assert session.get(Job, job.id).state == JobState.QUEUED


def test_a_row_deleted_while_paused_is_registered_again_by_the_next_heartbeat(
        db: Database) -> None:
    engine, factory = db
    leases.register_workers(engine, [identity("a")])
    age_heartbeat(engine, "host-a", 10 * LEASE_S)
    assert leases.forget_stale_workers(engine, 5 * LEASE_S) == 1
    assert statuses(factory) == {}
    leases.heartbeat(engine, [identity("a")])
    assert statuses(factory)["host-a"].alive


def test_forget_only_rows_older_than_the_limit_and_unregister_on_stop(db: Database) -> None:
    engine, factory = db
    leases.register_workers(engine, [identity("a"), identity("b"), identity("c")])
    age_heartbeat(engine, "host-a", 7200)
    age_heartbeat(engine, "host-b", 60)
    assert leases.forget_stale_workers(engine, leases.forget_after_s(LEASE_S)) == 1
    assert set(statuses(factory)) == {"host-b", "host-c"}
    leases.unregister_workers(engine, ["host-c"])
    assert set(statuses(factory)) == {"host-b"}


def test_the_keeper_heartbeats_takes_back_and_notices_when_cut_off(db: Database) -> None:
    engine, factory = db
    leases.register_workers(engine, [identity("a"), identity("dead")])
    enqueue(factory, 1)
    queue.claim_next_job(engine, "host-dead")
    age_heartbeat(engine, "host-dead", LEASE_S + 1)
    keeper = leases.LeaseKeeper(engine, [identity("a")], LEASE_S, max_attempts=3)
    keeper.beat_once()
    assert not keeper.lease_lost()
    with factory() as session:
        assert session.query(Job).one().state == JobState.QUEUED
    unreachable = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    cut_off = leases.LeaseKeeper(unreachable, [identity("a")], lease_s=0.2, max_attempts=3)
    cut_off.beat_once()                       # logs, does not raise
    time.sleep(0.3)
    assert cut_off.lease_lost()


def test_cancel_token_stops_once_the_claim_moves_or_the_lease_is_lost(db: Database) -> None:
    engine, factory = db
    enqueue(factory, 1)
    job = queue.claim_next_job(engine, "host-a")
    stopping = threading.Event()
    assert not JobCancelToken(engine, job, stopping).is_set()
    moved = SimpleNamespace(id=job.id, public_id=job.public_id, claim_token="not-ours")
    assert JobCancelToken(engine, moved, stopping).is_set()           # taken over
    unreachable = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert not JobCancelToken(unreachable, job, stopping, lambda: False).is_set()  # no raise
    assert JobCancelToken(unreachable, job, stopping, lambda: True).is_set()


def test_a_job_its_live_workers_row_no_longer_names_goes_back_after_a_lease(
        db: Database) -> None:
    """The worker moved on without recording the job's end (the database refused that
    write): its heartbeat is fresh, yet the job is not held any more."""
    engine, factory = db
    leases.register_workers(engine, [identity("a")])
    (job,) = enqueue(factory, 1)
    queue.claim_next_job(engine, "host-a")
    age_job(engine, job.id, LEASE_S + 1)
    assert leases.take_back_expired_jobs(engine, LEASE_S, max_attempts=3) == 0  # still named
    leases.set_current_job(engine, "host-a", None)
    assert leases.take_back_expired_jobs(engine, LEASE_S, max_attempts=3) == 1


def test_a_worker_whose_clock_is_an_hour_behind_is_still_alive(
        db: Database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Heartbeats are the database's time: a worker machine's clock never enters them."""
    from datetime import timedelta

    from app.db import models

    behind = lambda: models.datetime.now(models.timezone.utc) - timedelta(hours=1)  # noqa: E731
    for module in (models, queue, leases):
        monkeypatch.setattr(module, "utcnow", behind)
    engine, factory = db
    leases.register_workers(engine, [identity("a")])
    leases.heartbeat(engine, [identity("a")])
    assert statuses(factory)["host-a"].alive and statuses(factory)["host-a"].heartbeat_age_s < 5
