"""A clip shared between workers, on real databases (a SQLite file and PostgreSQL): its
pieces are claimed by several workers in the fair order, its progress sums theirs, the join
goes to exactly one worker (whoever commits the last piece, even when two commit at once),
a silent worker's piece is taken back by lease (its late commit refused), and a cancel
reaches every piece."""

from __future__ import annotations

import threading

from sqlalchemy import select

from app.db.models import Job, JobState
from app.db.segments import JobSegment, PieceState
from app.jobs import leases, pieces, queue
from app.video.stages import Piece
from tests.jobs.conftest import Database, enqueue
from tests.jobs.test_leases import LEASE_S, age_heartbeat, identity

PLAN = [Piece(i, i * 1000, (i + 1) * 1000 if i < 3 else None, i * 24, 24) for i in range(4)]


def split_clip(db: Database, owner: str = "owner-a") -> Job:
    """A clip claimed by worker a, then cut into four queued pieces."""
    engine, factory = db
    leases.register_workers(engine, [identity(n) for n in "abc"])
    [job] = enqueue(factory, 1, kind="video", owner_id=owner)
    claimed = queue.claim_next_job(engine, "host-a")
    assert claimed is not None and claimed.id == job.id
    assert pieces.split_job(engine, job.id, claimed.claim_token or "", PLAN)
    assert not pieces.split_job(engine, job.id, claimed.claim_token or "", PLAN)  # fenced
    return claimed


def segment(number: int) -> dict:
    return {"index": number, "path": f"segments/p{number}.mp4", "first_frame": number * 24,
            "frames": 24, "start_pts": number * 1000, "end_pts": (number + 1) * 1000,
            "time_base": [1, 12288]}


def job_row(factory, job_id: int) -> Job:
    with factory() as session:
        return session.get(Job, job_id)


def piece_rows(factory, job_id: int) -> list[JobSegment]:
    with factory() as session:
        return list(session.scalars(select(JobSegment).where(JobSegment.job_id == job_id)
                                    .order_by(JobSegment.number)))


def test_pieces_are_shared_and_the_last_commit_joins_once(db: Database) -> None:
    engine, factory = db
    job = split_clip(db)
    assert job_row(factory, job.id).claim_token is None        # held by its pieces now
    first = pieces.claim_next_work(engine, "host-a")
    second = pieces.claim_next_work(engine, "host-b")
    assert isinstance(first, pieces.ClaimedPiece) and isinstance(second, pieces.ClaimedPiece)
    assert (first.piece.number, second.piece.number) == (0, 1)
    assert pieces.record_progress(engine, first.piece.id, first.piece.claim_token, 0.5)
    assert abs(job_row(factory, job.id).progress - 0.5 * 24 / 96) < 1e-6   # summed, weighted
    assert pieces.commit_piece(engine, "host-b", second.piece.id, second.piece.claim_token,
                               segment(1)) == (True, None)
    assert pieces.commit_piece(engine, "host-a", first.piece.id, first.piece.claim_token,
                               segment(0)) == (True, None)
    third, fourth = (pieces.claim_next_work(engine, w) for w in ("host-a", "host-b"))
    assert isinstance(third, pieces.ClaimedPiece) and isinstance(fourth, pieces.ClaimedPiece)
    assert pieces.claim_next_work(engine, "host-c") is None     # nothing left to take
    assert pieces.commit_piece(engine, "host-a", third.piece.id, third.piece.claim_token,
                               segment(2)) == (True, None)
    recorded, join = pieces.commit_piece(engine, "host-b", fourth.piece.id,
                                         fourth.piece.claim_token, segment(3))
    assert recorded and join is not None and join.worker_id == "host-b"
    assert [s["index"] for s in join.segments] == [0, 1, 2, 3]
    assert join.state == JobState.RUNNING and join.claim_token
    assert queue.finish_job(engine, job.id, join.claim_token, result_path="r.mp4",
                            thumb_path=None, width=8, height=8)
    assert {p.worker_id for p in piece_rows(factory, job.id)} == {"host-a", "host-b"}
    assert all(p.state == PieceState.DONE for p in piece_rows(factory, job.id))


def test_two_last_commits_at_once_make_one_join(db: Database) -> None:
    engine, factory = db
    for attempt in range(3):
        job = split_clip(db, owner=f"owner-{attempt}")
        claims = [pieces.claim_next_work(engine, "host-a") for _ in PLAN]
        for claim in claims[:2]:
            pieces.commit_piece(engine, "host-a", claim.piece.id, claim.piece.claim_token,
                                segment(claim.piece.number))
        joins: list = []
        start = threading.Barrier(2)

        def commit(claim: pieces.ClaimedPiece, worker: str) -> None:
            start.wait()
            joins.append(pieces.commit_piece(engine, worker, claim.piece.id,
                                             claim.piece.claim_token,
                                             segment(claim.piece.number)))

        threads = [threading.Thread(target=commit, args=(c, w))
                   for c, w in zip(claims[2:], ("host-a", "host-b"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert [recorded for recorded, _ in joins] == [True, True]
        assert len([j for _, j in joins if j is not None]) == 1, joins
        row = job_row(factory, job.id)
        assert len(row.segments) == 4 and row.claim_token is not None


def test_a_silent_workers_piece_is_taken_back_and_its_late_commit_refused(db: Database) -> None:
    engine, factory = db
    job = split_clip(db)
    lost = pieces.claim_next_work(engine, "host-a")
    assert isinstance(lost, pieces.ClaimedPiece)
    age_heartbeat(engine, "host-a", 2 * LEASE_S)
    leases.take_back_expired_jobs(engine, LEASE_S, 3)          # the job is its pieces'
    assert job_row(factory, job.id).state == JobState.RUNNING
    assert pieces.take_back_expired_pieces(engine, LEASE_S, 3) == 1
    assert pieces.piece_status(engine, lost.piece.id, lost.piece.claim_token) == "lost"
    again = pieces.claim_next_work(engine, "host-b")
    assert isinstance(again, pieces.ClaimedPiece) and again.piece.id == lost.piece.id
    assert again.piece.attempts == 2
    assert pieces.commit_piece(engine, "host-a", lost.piece.id, lost.piece.claim_token,
                               segment(0)) == (False, None)
    assert pieces.commit_piece(engine, "host-b", again.piece.id, again.piece.claim_token,
                               segment(0)) == (True, None)


def test_a_piece_out_of_attempts_fails_the_clip(db: Database) -> None:
    engine, factory = db
    job = split_clip(db)
    claim = pieces.claim_next_work(engine, "host-a")
    age_heartbeat(engine, "host-a", 2 * LEASE_S)
    assert pieces.take_back_expired_pieces(engine, LEASE_S, max_attempts=1) == 1
    row = job_row(factory, job.id)
    assert row.state == JobState.FAILED and "part 1" in row.error and claim is not None


def test_a_cancel_reaches_every_piece(db: Database) -> None:
    engine, factory = db
    job = split_clip(db)
    one, two = (pieces.claim_next_work(engine, w) for w in ("host-a", "host-b"))
    assert pieces.commit_piece(engine, "host-c", *_held(two), segment(1))[0]
    two = pieces.claim_next_work(engine, "host-b")
    with factory() as session:
        assert queue.request_cancel(session, session.get(Job, job.id))
    assert job_row(factory, job.id).state == JobState.RUNNING    # pieces are running
    assert pieces.piece_status(engine, *_held(one)) == "cancel requested"
    assert pieces.claim_next_work(engine, "host-c") is None      # no piece of it is handed out
    files = pieces.end_split_job(engine, job.id, JobState.CANCELLED, piece=_held(one))
    assert files == ["segments/p1.mp4"]                          # what its worker removes
    assert job_row(factory, job.id).state == JobState.CANCELLED
    assert pieces.piece_status(engine, *_held(two)) == "lost"    # the other worker stops
    assert pieces.commit_piece(engine, "host-b", *_held(two), segment(2)) == (False, None)
    assert pieces.end_split_job(engine, job.id, JobState.CANCELLED, piece=_held(two)) is None


def test_a_cancel_with_no_piece_running_ends_the_clip_at_once(db: Database) -> None:
    engine, factory = db
    job = split_clip(db)
    with factory() as session:
        assert queue.request_cancel(session, session.get(Job, job.id))
    assert job_row(factory, job.id).state == JobState.CANCELLED


def test_a_piece_is_its_persons_turn(db: Database) -> None:
    engine, factory = db
    job = split_clip(db, owner="ann")
    first = pieces.claim_next_work(engine, "host-a")
    assert isinstance(first, pieces.ClaimedPiece) and first.job.id == job.id
    [bo] = enqueue(factory, 1, owner_id="bo")
    taken = pieces.claim_next_work(engine, "host-b")          # Ann was just served: Bo's turn
    assert isinstance(taken, Job) and taken.id == bo.id
    after = pieces.claim_next_work(engine, "host-c")
    assert isinstance(after, pieces.ClaimedPiece) and after.piece.number == 1


def _held(claim) -> tuple[int, str]:
    return claim.piece.id, claim.piece.claim_token


def test_a_queued_piece_of_someone_elses_clip_makes_a_long_clip_give_way(db: Database) -> None:
    engine, factory = db
    [long] = enqueue(factory, 1, kind="video", owner_id="bo")
    queue.claim_next_job(engine, "host-c")
    assert not queue.others_waiting(engine, "bo")
    split_clip(db, owner="ann")                  # Ann's clip: four pieces waiting
    assert queue.others_waiting(engine, "bo") and long is not None
    for _ in PLAN:
        pieces.claim_next_work(engine, "host-a")
    assert not queue.others_waiting(engine, "bo")  # all of them taken
