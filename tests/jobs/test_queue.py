"""The job queue on real databases (a SQLite file and PostgreSQL): claim order, atomicity,
cancel, recovery, fencing."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text

from app.db.engine import make_db_engine
from app.db.models import Job, JobState
from app.jobs import queue
from app.people.styles import prune_unused_styles
from tests.jobs.conftest import enqueue


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    engine = make_db_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_claims_oldest_first_and_each_job_once_across_threads(db) -> None:
    engine, factory = db
    jobs = enqueue(factory, 30)
    claimed: list[int] = []
    lock = threading.Lock()

    def work(worker: str) -> None:
        while (job := queue.claim_next_job(engine, worker)) is not None:
            with lock:
                claimed.append(job.id)
            assert job.state == JobState.RUNNING and job.attempts == 1
            queue.finish_job(engine, job.id, job.claim_token, result_path="results/r.png",
                             thumb_path=None, width=8, height=8)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(claimed) == [job.id for job in jobs]  # every job exactly once
    assert queue.claim_next_job(engine, "late") is None


def test_single_worker_respects_queue_order(db) -> None:
    engine, factory = db
    jobs = enqueue(factory, 5)
    order = [queue.claim_next_job(engine, "w").id for _ in jobs]  # type: ignore[union-attr]
    assert order == [job.id for job in jobs]


def test_progress_finish_and_gallery(db) -> None:
    engine, factory = db
    first, second, hidden = enqueue(factory, 2) + enqueue(factory, 1, visibility="unlisted")
    for job in (first, second, hidden):
        claimed = queue.claim_next_job(engine, "w")
        token = claimed.claim_token
        assert queue.update_progress(engine, claimed.id, token, 0.5, "frame 1 of 2")
        assert queue.finish_job(engine, claimed.id, token, result_path="results/x.png",
                                thumb_path="thumbs/x.jpg", width=64, height=48)
        assert not queue.finish_job(engine, claimed.id, token, result_path="results/y.png",
                                    thumb_path=None, width=1, height=1)   # written once
    assert not queue.update_progress(engine, first.id, token, 0.9, "late")  # finished: refused
    with factory() as session:
        listed, total = queue.list_gallery(session, page=1, per_page=1)
        assert total == 2 and [j.id for j in listed] == [second.id]
        page2, _ = queue.list_gallery(session, page=2, per_page=1)
        assert [j.id for j in page2] == [first.id]
        shared = queue.get_job_by_share_token(session, hidden.share_token)
        assert shared is not None and shared.id == hidden.id  # unlisted: by link only
        assert queue.get_job_by_share_token(session, "not-a-token") is None


def test_cancel_queued_is_immediate_and_running_is_flagged(db) -> None:
    engine, factory = db
    running, waiting = enqueue(factory, 2)
    token = queue.claim_next_job(engine, "w").claim_token
    with factory() as session:
        job = queue.get_job(session, waiting.public_id)
        assert queue.request_cancel(session, job) and job.state == JobState.CANCELLED
        job = queue.get_job(session, running.public_id)
        assert not queue.is_cancel_requested(engine, job.id)
        assert queue.request_cancel(session, job) and job.state == JobState.RUNNING
    assert queue.is_cancel_requested(engine, running.id)
    assert queue.cancel_running_job(engine, running.id, token)
    with factory() as session:
        job = queue.get_job(session, running.public_id)
        assert job.state == JobState.CANCELLED
        assert not queue.request_cancel(session, job)  # finished jobs stay as they are


def test_queue_position_counts_jobs_ahead(db) -> None:
    engine, factory = db
    jobs = enqueue(factory, 3)
    with factory() as session:
        assert [queue.queue_position(session, j) for j in jobs] == [1, 2, 3]
        queue.claim_next_job(engine, "w")
        session.rollback()  # end the read snapshot (WAL) so the claim is visible
        assert [queue.queue_position(session, session.get(Job, j.id)) for j in jobs] == [0, 1, 2]


def test_recovery_requeues_until_the_attempt_limit(db) -> None:
    engine, factory = db
    (job,) = enqueue(factory, 1)
    for attempt in range(1, 3):
        claimed = queue.claim_next_job(engine, "w")
        assert claimed.attempts == attempt
        assert queue.recover_interrupted_jobs(engine, max_attempts=2) == 1  # "crash"
    with factory() as session:
        failed = queue.get_job(session, job.public_id)
        assert failed.state == JobState.FAILED
        assert "2 times" in failed.error


def test_release_job_puts_it_back_first_in_line(db) -> None:
    engine, factory = db
    first, _ = enqueue(factory, 2)
    claimed = queue.claim_next_job(engine, "w")
    assert queue.release_job(engine, claimed.id, claimed.claim_token)
    again = queue.claim_next_job(engine, "w")
    assert again.id == first.id and again.claim_token != claimed.claim_token


def test_a_stale_claim_can_no_longer_write(db) -> None:
    """Fencing: once a job was re-queued and claimed again, the first claimer's token is
    worthless: its progress, result, failure and release are all refused."""
    engine, factory = db
    (job,) = enqueue(factory, 1)
    first = queue.claim_next_job(engine, "w1")
    assert queue.recover_interrupted_jobs(engine, max_attempts=3) == 1   # "w1 died"
    second = queue.claim_next_job(engine, "w2")
    assert second.id == first.id and second.claim_token != first.claim_token
    stale = first.claim_token
    assert not queue.update_progress(engine, job.id, stale, 0.7, "late progress")
    assert not queue.finish_job(engine, job.id, stale, result_path="results/late.png",
                                thumb_path=None, width=1, height=1)
    assert not queue.fail_job(engine, job.id, stale, "late failure")
    assert not queue.release_job(engine, job.id, stale)
    assert queue.is_cancel_requested(engine, job.id, stale)      # so w1 would stop
    assert not queue.is_cancel_requested(engine, job.id, second.claim_token)
    assert queue.finish_job(engine, job.id, second.claim_token, result_path="results/ok.png",
                            thumb_path=None, width=8, height=8)
    with factory() as session:
        done = queue.get_job(session, job.public_id)
        assert (done.state, done.result_path, done.attempts) == (
            JobState.SUCCEEDED, "results/ok.png", 2)


def test_delete_returns_media_paths_and_running_jobs_are_cancelled_instead(db) -> None:
    engine, factory = db
    running, done = enqueue(factory, 2)
    queue.claim_next_job(engine, "w")
    with factory() as session:
        job = queue.get_job(session, done.public_id)
        assert queue.delete_job(session, job) == ["uploads/c.png", "uploads/s.png"]
        assert queue.get_job(session, done.public_id) is None
        job = queue.get_job(session, running.public_id)
        assert queue.delete_job(session, job) == []
    assert queue.is_cancel_requested(engine, running.id)


def test_a_vanished_job_counts_as_cancelled(db) -> None:
    engine, factory = db
    (job,) = enqueue(factory, 1)
    with factory() as session:
        session.execute(text("DELETE FROM jobs"))
        session.commit()
    assert queue.is_cancel_requested(engine, job.id)


def test_a_request_that_read_first_can_still_write_after_another_commit(db) -> None:
    """A request's session reads (its job, a queue position), a worker commits progress
    meanwhile, then the request writes: on SQLite in WAL mode that upgrade fails at once
    with "database is locked" unless the write begins a fresh transaction (begin_write)."""
    engine, factory = db
    running, waiting = enqueue(factory, 2)
    token = queue.claim_next_job(engine, "w").claim_token
    with factory() as session:
        job = queue.get_job(session, waiting.public_id)
        assert queue.queue_position(session, job) == 1         # an open read transaction
        assert queue.update_progress(engine, running.id, token, 0.5, "halfway")
        assert queue.request_cancel(session, job) and job.state == JobState.CANCELLED
        queue.update_details(session, job, title="after another commit")
        queue.begin_write(session)
        queue.begin_write(session)                              # idempotent in its transaction
        session.rollback()
    with factory() as session:
        assert queue.get_job(session, waiting.public_id).title == "after another commit"
        # writes that find nothing to do leave no write lock behind in the open session
        assert not queue.request_cancel(session, queue.get_job(session, waiting.public_id))
        assert prune_unused_styles(session) == []
        assert queue.update_progress(engine, running.id, token, 0.6, "further on")


def test_run_times_are_read_again_only_when_a_job_succeeded(db, monkeypatch) -> None:
    """Estimates are asked for several times a second (event streams, lists): the last runs
    are loaded once, and again only after another job succeeded."""
    from app.jobs import estimates

    engine, factory = db
    first, second = enqueue(factory, 2)
    loads = []
    real = estimates.recent_run_times
    monkeypatch.setattr(estimates, "recent_run_times",
                        lambda session: loads.append(1) or real(session))

    def finish(job) -> None:
        token = queue.claim_next_job(engine, "w").claim_token
        assert queue.finish_job(engine, job.id, token, result_path="results/r.png",
                                thumb_path=None, width=8, height=8)

    finish(first)
    with factory() as session:
        for _ in range(3):
            times = estimates.current_run_times(session)
        assert len(loads) == 1 and times.by_engine[("microast", "image")]
    finish(second)
    with factory() as session:                    # the next request
        estimates.current_run_times(session)
        assert len(loads) == 2
