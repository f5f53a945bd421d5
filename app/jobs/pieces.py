"""A clip shared out between workers: its pieces in ``job_segments`` (:mod:`app.db.segments`),
the database the only coordinator.

- **Split.** The worker that claims a clip while another worker is alive has its engine cut
  the stretch into pieces (:func:`app.video.pieces.plan_pieces`) and :func:`split_job`
  writes one queued row per piece and lets go of the job's claim (fenced by its token).
  The job stays ``running``; a split job is held by its pieces, never by one worker.
- **Claim.** A free worker takes the next piece or the next job in the fair order
  (:func:`claim_next_work`): a piece is its person's turn like a job. A piece's claim is
  one ``UPDATE … WHERE state = 'queued'`` that gives it a fresh fencing token; every later
  write about the piece is ``WHERE claim_token = <that token>``.
- **Commit and join, once.** A piece's segment is committed in one transaction that first
  locks the job's row (so the commits of one clip go one at a time on PostgreSQL as on
  SQLite), marks the piece done, adds its segment to ``jobs.segments`` and, when no piece is
  left, gives the job's claim to the committing worker (a new token): that worker joins the
  segments (the ordinary clip run, with nothing left to stylise) and records the result
  under that token. Whoever commits last joins; nobody else can.
- **Progress** sums the pieces', weighted by their frames. **Cancel and delete** reach every
  piece: each piece's worker sees the job's cancel (or its end) and stops; the first one to
  stop ends the job for all. **Leases**: a piece whose worker stopped heartbeating goes back
  to the queue (:func:`take_back_expired_pieces`, run by every lease keeper), or ends the job
  once it has used its attempts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Engine, and_, case, exists, false, func, select, update
from sqlalchemy.orm import Session, aliased

from app.db.clock import seconds_ago
from app.db.engine import write_session
from app.db.models import Job, JobState, WorkerRecord, as_utc, utcnow
from app.db.segments import JobSegment, PieceState
from app.jobs import queue
from app.jobs.fairness import claim_order
from app.video.stages import Piece

log = logging.getLogger("dreamgen.worker")

SPLIT = "made in {count} parts by every free worker"
PIECE_GAVE_UP = ("the workers making part {number} of this clip stopped answering {count} "
                 "times, so it was given up (try a shorter clip or a smaller size)")


@dataclass(frozen=True)
class ClaimedPiece:
    """A piece a worker claimed: the row (with its token) and its job."""

    piece: JobSegment
    job: Job

    def as_piece(self) -> Piece:
        p = self.piece
        return Piece(p.number, p.start_pts, p.end_pts, p.first_frame, p.frames)


# ----------------------------------------------------------------------------- split
def live_workers(db_engine: Engine, lease_s: float) -> int:
    """Workers whose heartbeat is within the lease (anywhere)."""
    with Session(db_engine) as session:
        return session.scalar(select(func.count()).select_from(WorkerRecord).where(
            WorkerRecord.last_heartbeat >= seconds_ago(lease_s))) or 0


def has_pieces(db_engine: Engine, job_id: int) -> bool:
    with Session(db_engine) as session:
        return session.scalar(select(JobSegment.id).where(JobSegment.job_id == job_id)
                              .limit(1)) is not None


def split_job(db_engine: Engine, job_id: int, token: str, pieces: list[Piece]) -> bool:
    """Turn a claimed clip job into queued pieces and let go of its claim; False (nothing
    written) when ``token`` no longer holds it."""
    with write_session(db_engine) as session:
        changed = session.execute(
            update(Job).where(Job.id == job_id, Job.state == JobState.RUNNING,
                              Job.claim_token == token)
            .values(claim_token=None, worker_id=None, progress=0.0, updated_at=utcnow(),
                    message=SPLIT.format(count=len(pieces)))
            .execution_options(synchronize_session=False)).rowcount
        if not changed:
            session.rollback()
            return False
        session.add_all(JobSegment(job_id=job_id, number=p.number, start_pts=p.start_pts,
                                   end_pts=p.end_pts, first_frame=p.first_frame,
                                   frames=p.frames, state=PieceState.QUEUED, progress=0.0,
                                   attempts=0) for p in pieces)
        queue.release_worker_rows(session, job_id)
        session.commit()
    return True


# ----------------------------------------------------------------------------- claim
def _split_and_open() -> Any:
    """SQL: the piece's job is running, split (no worker holds its claim) and not being
    cancelled."""
    return JobSegment.job_id.in_(select(Job.id).where(
        Job.state == JobState.RUNNING, Job.claim_token.is_(None),
        Job.cancel_requested == false()))


def last_served(owner: Any) -> Any:
    """SQL: when ``owner``'s last job or piece started (NULL: never)."""
    other, piece_job = aliased(Job), aliased(Job)
    jobs = select(func.max(other.started_at)).where(other.owner_id == owner).scalar_subquery()
    pieces = (select(func.max(JobSegment.claimed_at))
              .join(piece_job, piece_job.id == JobSegment.job_id)
              .where(piece_job.owner_id == owner).scalar_subquery())
    return case((jobs.is_(None), pieces), (pieces.is_(None), jobs), (jobs >= pieces, jobs),
                else_=pieces)


Turn = tuple[int, int, datetime, int]


def _turn(priority: int, served: Any, job_id: int) -> Turn:
    """A sort key in the fair order (:mod:`app.jobs.fairness`): priority, then the person
    served longest ago (never first), then the oldest job."""
    if isinstance(served, str):               # SQLite's CASE hands back the text
        served = datetime.fromisoformat(served)
    at = as_utc(served)
    return (-priority, 0 if at is None else 1, at or datetime.min, job_id)


def _next_piece(session: Session) -> tuple[Turn, int] | None:
    served = last_served(Job.owner_id)
    row = session.execute(
        select(JobSegment.id, Job.id, Job.priority, served)
        .join(Job, Job.id == JobSegment.job_id)
        .where(JobSegment.state == PieceState.QUEUED, _split_and_open())
        .order_by(Job.priority.desc(), served.asc().nulls_first(), Job.id, JobSegment.number)
        .limit(1)).first()
    if row is None:
        return None
    piece_id, job_id, priority, at = row
    return _turn(priority, at, job_id), piece_id


def _next_job(session: Session) -> Turn | None:
    job_id = session.scalar(claim_order())
    if job_id is None:
        return None
    priority, owner = session.execute(select(Job.priority, Job.owner_id)
                                      .where(Job.id == job_id)).one()
    at = session.scalar(select(last_served(Job.owner_id)).where(Job.id == job_id))
    return _turn(priority, at, job_id)


def claim_piece(db_engine: Engine, worker_id: str, piece_id: int) -> ClaimedPiece | None:
    """Take the queued piece ``piece_id`` for ``worker_id`` with a fresh token (None when
    another worker took it first, or its job is no longer open)."""
    with write_session(db_engine) as session:
        piece = session.scalars(
            update(JobSegment).where(JobSegment.id == piece_id,
                                     JobSegment.state == PieceState.QUEUED, _split_and_open())
            .values(state=PieceState.RUNNING, worker_id=worker_id, progress=0.0,
                    claim_token=queue.new_claim_token(), attempts=JobSegment.attempts + 1,
                    claimed_at=utcnow(), updated_at=utcnow())
            .returning(JobSegment).execution_options(synchronize_session=False)).one_or_none()
        if piece is None:
            session.rollback()
            return None
        job = session.get(Job, piece.job_id)
        session.execute(update(WorkerRecord).where(WorkerRecord.id == worker_id)
                        .values(job_id=piece.job_id))
        session.commit()
    assert job is not None
    return ClaimedPiece(piece, job)


def claim_next_work(db_engine: Engine, worker_id: str) -> ClaimedPiece | Job | None:
    """The next piece or job in the fair order, claimed for ``worker_id`` (a piece counts as
    its person's turn; between two of one person's, the piece of the clip already started
    goes first); None when nothing waits."""
    for _ in range(queue.CLAIM_TRIES):
        with Session(db_engine) as session:
            piece, job = _next_piece(session), _next_job(session)
        if piece is None and job is None:
            return None
        if piece is not None and (job is None or piece[0] <= job):
            claimed: ClaimedPiece | Job | None = claim_piece(db_engine, worker_id, piece[1])
        else:
            claimed = queue.claim_next_job(db_engine, worker_id)
        if claimed is not None:
            return claimed
    return None


# ----------------------------------------------------------------------------- a piece's run
PieceStatus = Literal["ours", "cancel requested", "lost"]


def piece_status(db_engine: Engine, piece_id: int, token: str) -> PieceStatus:
    """Where a worker's claim on a piece stands: ``ours``, ours but the job's owner asked to
    cancel (``cancel requested``), or ``lost`` (taken over, the job ended or was deleted)."""
    with Session(db_engine) as session:
        row = session.execute(
            select(JobSegment.state, JobSegment.claim_token, Job.state, Job.claim_token,
                   Job.cancel_requested)
            .join(Job, Job.id == JobSegment.job_id).where(JobSegment.id == piece_id)
        ).one_or_none()
    if row is None or row[0] != PieceState.RUNNING or row[1] != token or \
            row[2] != JobState.RUNNING or row[3] is not None:
        return "lost"
    return "cancel requested" if row[4] else "ours"


def _held(piece_id: int, token: str) -> Any:
    return and_(JobSegment.id == piece_id, JobSegment.state == PieceState.RUNNING,
                JobSegment.claim_token == token)


def record_progress(db_engine: Engine, piece_id: int, token: str, fraction: float) -> bool:
    """A piece's progress, and its job's: the pieces' summed, weighted by their frames."""
    with write_session(db_engine) as session:
        job_id = session.scalar(select(JobSegment.job_id).where(_held(piece_id, token)))
        if job_id is None:
            return False
        session.execute(update(JobSegment).where(_held(piece_id, token))
                        .values(progress=max(0.0, min(1.0, fraction)), updated_at=utcnow())
                        .execution_options(synchronize_session=False))
        rows = session.execute(select(JobSegment.frames, JobSegment.state, JobSegment.progress)
                               .where(JobSegment.job_id == job_id)).all()
        total = sum(max(1, f) for f, _, _ in rows)
        made = sum(max(1, f) * (1.0 if s == PieceState.DONE else p) for f, s, p in rows)
        done = sum(s == PieceState.DONE for _, s, _ in rows)
        running = sum(s == PieceState.RUNNING for _, s, _ in rows)
        session.execute(update(Job).where(Job.id == job_id, Job.state == JobState.RUNNING,
                                          Job.claim_token.is_(None))
                        .values(progress=min(0.98, made / total), updated_at=utcnow(),
                                message=f"{done} of {len(rows)} parts made, {running} being "
                                        f"made")
                        .execution_options(synchronize_session=False))
        session.commit()
    return True


def commit_piece(db_engine: Engine, worker_id: str, piece_id: int, token: str,
                 segment: dict[str, Any]) -> tuple[bool, Job | None]:
    """Record a piece's committed segment (while ``token`` holds it and its job is open):
    (recorded, the job — claimed for ``worker_id`` with a new token — when this was the last
    piece, so this worker joins it; else None)."""
    with write_session(db_engine) as session:
        job_id = session.scalar(select(JobSegment.job_id).where(_held(piece_id, token)))
        # the job's row first: one clip's commits go one at a time, so one of them is last
        segments = None if job_id is None else session.scalar(
            select(Job.segments).where(Job.id == job_id, Job.state == JobState.RUNNING,
                                       Job.claim_token.is_(None)).with_for_update())
        if segments is None or not session.execute(
                update(JobSegment).where(_held(piece_id, token))
                .values(state=PieceState.DONE, segment=segment, progress=1.0,
                        claim_token=None, updated_at=utcnow())
                .execution_options(synchronize_session=False)).rowcount:
            session.rollback()
            return False, None
        kept = [s for s in segments if s.get("index") != segment["index"]] + [segment]
        values: dict[str, Any] = dict(segments=sorted(kept, key=lambda s: s["index"]),
                                      updated_at=utcnow())
        left = session.scalar(select(func.count()).select_from(JobSegment).where(
            JobSegment.job_id == job_id, JobSegment.state != PieceState.DONE))
        if not left:
            values.update(claim_token=queue.new_claim_token(), worker_id=worker_id,
                          message="joining the parts")
        session.execute(update(Job).where(Job.id == job_id).values(**values)
                        .execution_options(synchronize_session=False))
        session.commit()
        if left:
            return True, None
        job = session.get(Job, job_id)
        session.refresh(job)
        return True, job


def release_piece(db_engine: Engine, piece_id: int, token: str, count_run: bool = True) -> bool:
    """Put a piece back in the queue (its worker stops, or its engine crashed with attempts
    left); ``count_run`` False gives its attempt back."""
    values: dict[str, Any] = dict(state=PieceState.QUEUED, worker_id=None, claim_token=None,
                                  progress=0.0, updated_at=utcnow())
    if not count_run:
        values["attempts"] = JobSegment.attempts - 1
    with write_session(db_engine) as session:
        changed = session.execute(update(JobSegment).where(_held(piece_id, token))
                                  .values(**values)
                                  .execution_options(synchronize_session=False)).rowcount
        session.commit()
    return changed == 1


def end_split_job(db_engine: Engine, job_id: int, state: JobState, error: str | None = None,
                  piece: tuple[int, str] | None = None) -> list[str] | None:
    """End a split job for every piece (cancelled, or failed with ``error``); with ``piece``
    (id, token) only while that claim holds. Returns the segment files to remove (None when
    the job had already ended)."""
    with write_session(db_engine) as session:
        where = [Job.id == job_id, Job.state == JobState.RUNNING, Job.claim_token.is_(None)]
        if piece is not None:
            where.append(exists().where(JobSegment.job_id == Job.id, _held(*piece)))
        segments = session.scalar(select(Job.segments).where(*where).with_for_update())
        if segments is None:
            session.rollback()
            return None
        values: dict[str, Any] = dict(state=state, finished_at=utcnow(), updated_at=utcnow(),
                                      message="failed" if state == JobState.FAILED
                                      else "cancelled", segments=[], partial_path=None)
        if error is not None:
            values["error"] = error[:2000]
        session.execute(update(Job).where(Job.id == job_id).values(**values)
                        .execution_options(synchronize_session=False))
        session.commit()
    return [s["path"] for s in segments if s.get("path")]


# ----------------------------------------------------------------------------- leases
def expired_pieces(session: Session, lease_s: float) -> list[Any]:
    """Running pieces whose worker's heartbeat is older than the lease, or which no worker
    row names: (id, job_id, number, claim_token, attempts)."""
    beating = exists().where(WorkerRecord.id == JobSegment.worker_id,
                             WorkerRecord.last_heartbeat >= seconds_ago(lease_s))
    return list(session.execute(
        select(JobSegment.id, JobSegment.job_id, JobSegment.number, JobSegment.claim_token,
               JobSegment.attempts)
        .where(JobSegment.state == PieceState.RUNNING, ~beating).order_by(JobSegment.id)).all())


def take_back_expired_pieces(db_engine: Engine, lease_s: float, max_attempts: int) -> int:
    """Re-queue the pieces whose worker's lease ran out (fencing the old holder: its token
    goes); a piece that has used its attempts ends its job as failed. Returns how many."""
    with Session(db_engine) as session:
        expired = expired_pieces(session, lease_s)
    taken = 0
    for piece_id, job_id, number, token, attempts in expired:
        if attempts >= max_attempts:
            if end_split_job(db_engine, job_id, JobState.FAILED,
                             PIECE_GAVE_UP.format(number=number + 1, count=attempts),
                             (piece_id, token)) is not None:
                taken += 1
            continue
        if release_piece(db_engine, piece_id, token):
            taken += 1
            log.warning("part %d of job %d: its worker stopped answering; back in the queue",
                        number + 1, job_id)
    return taken
