"""The job queue: enqueue, claim atomically, report progress, finish, cancel, recover.

Every write is one short transaction so the web pages and several workers (threads, or
processes on other machines sharing a PostgreSQL database) never wait long on each other.
Claiming is a single ``UPDATE … WHERE id = (SELECT … LIMIT 1 [FOR UPDATE SKIP LOCKED])
RETURNING …``; on SQLite it runs inside ``BEGIN IMMEDIATE`` so two claimers cannot both win.

Every claim carries a fresh random ``claim_token`` (a fencing token): progress, the result,
a failure or a release are written only ``WHERE claim_token = <the claimer's token>``, so a
worker that lost its job (re-queued after a restart, taken over by another worker) can no
longer change it, and a job's final result is written exactly once. Workers that stop
heartbeating lose their jobs the same way (:mod:`app.jobs.leases`).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any, Callable, Literal

from sqlalchemy import ColumnElement, Engine, delete, exists, func, select, update
from sqlalchemy.orm import Session

from app.db.engine import begin_write, write_session
from app.db.models import Job, JobState, WorkerRecord, utcnow
from app.db.segments import JobSegment, PieceState
from app.jobs.fairness import claim_order, jobs_ahead


def enqueue_job(session: Session, *, owner_id: str, kind: str, engine: str,
                options: dict[str, Any], content_path: str, style_paths: list[str],
                visibility: str = "public", style_ids: list[int] | None = None,
                style_shared: list[bool] | None = None,
                with_job: Callable[[Session, Job], None] | None = None,
                **details: Any) -> Job:
    """Commit a new queued job. Call only after its input files are safely on disk, inside
    the caller's write transaction (:func:`begin_write`) or a new one.
    ``details``: the columns people choose or see (``title``, ``content_name``,
    ``style_names``, ``show_original``); ``style_ids``: the style library's id of each
    style file, in order (:mod:`app.people.styles`), and ``style_shared`` whether each is
    offered to the public library, written in the same transaction; ``with_job``: what
    else must be written with the job (its id known), such as what it spent of its owner's
    allowance (it may raise to refuse the job: nothing is committed)."""
    begin_write(session)
    job = Job(owner_id=owner_id, kind=kind, engine=engine, options=options,
              content_path=content_path, style_paths=style_paths, visibility=visibility,
              state=JobState.QUEUED, message="waiting in the queue", **details)
    session.add(job)
    if style_ids or with_job:
        session.flush()                      # the job's id, for the rows that name it
    if style_ids:
        from app.people.styles import link_styles

        link_styles(session, job, style_ids, style_shared)
    if with_job is not None:
        with_job(session, job)
    session.commit()
    return job


def new_claim_token() -> str:
    """A fencing token for one claim (128 random bits)."""
    return secrets.token_hex(16)


def release_worker_rows(session: Session, job_id: int, keep: str | None = None) -> None:
    """No worker row but ``keep``'s names ``job_id`` any more: a silent worker it was taken
    from no longer runs it (the admin's workers list). In the caller's transaction."""
    where = [WorkerRecord.job_id == job_id]
    if keep is not None:
        where.append(WorkerRecord.id != keep)
    session.execute(update(WorkerRecord).where(*where).values(job_id=None)
                    .execution_options(synchronize_session=False))


def unfinished_pieces() -> ColumnElement[bool]:
    """SQL, true for a clip split between workers with pieces still to make
    (:mod:`app.jobs.pieces`): its pieces hold it, never one worker, so no single lease or
    restart of one machine may put it back in the queue."""
    return exists().where(JobSegment.job_id == Job.id, JobSegment.state != PieceState.DONE)


CLAIM_TRIES = 5     # another worker took the job chosen a moment before: choose again


def claim_next_job(db_engine: Engine, worker_id: str) -> Job | None:
    """Atomically move the next queued job — the fair order's (:mod:`app.jobs.fairness`) —
    to ``running`` for ``worker_id`` and return it (with its new ``claim_token``); the
    worker's row, if it has one, names the job. None when nothing is queued."""
    for _ in range(CLAIM_TRIES):
        job = _claim_once(db_engine, worker_id)
        if job is not None:
            return job
        with Session(db_engine) as session:
            if not session.scalar(select(func.count()).select_from(Job)
                                  .where(Job.state == JobState.QUEUED)):
                return None
    return None


def _claim_once(db_engine: Engine, worker_id: str) -> Job | None:
    """One try: the UPDATE takes the chosen job only while it is still queued (on
    PostgreSQL another worker may have taken it between the choice and the write)."""
    chosen = claim_order().scalar_subquery()
    claim = (update(Job).where(Job.id == chosen, Job.state == JobState.QUEUED)
             .values(state=JobState.RUNNING, worker_id=worker_id, attempts=Job.attempts + 1,
                     claim_token=new_claim_token(), started_at=utcnow(), updated_at=utcnow(),
                     progress=0.0, message="starting", cancel_requested=False, eta_at=None)
             .returning(Job)
             .execution_options(synchronize_session=False))
    with write_session(db_engine) as session:
        job = session.scalars(claim).one_or_none()
        if job is not None:
            session.execute(update(WorkerRecord).where(WorkerRecord.id == worker_id)
                            .values(job_id=job.id))
            release_worker_rows(session, job.id, keep=worker_id)
        session.commit()
        return job


def _update_claimed(db_engine: Engine, job_id: int, token: str,
                    also: Callable[[Session], None] | None = None, **values: Any) -> bool:
    """Write ``values`` to a running job only while ``token`` still holds its claim; then
    ``also(session)`` in the same transaction (rows that stand or fall with the write)."""
    with write_session(db_engine) as session:
        result = session.execute(
            update(Job).where(Job.id == job_id, Job.state == JobState.RUNNING,
                              Job.claim_token == token)
            .values(updated_at=utcnow(), **values)
            .execution_options(synchronize_session=False))
        if result.rowcount == 1 and also is not None:
            also(session)
        session.commit()
        return result.rowcount == 1


def update_progress(db_engine: Engine, job_id: int, token: str, fraction: float, message: str,
                    preview_path: str | None = None, eta_s: float | None = None) -> bool:
    """Record progress of a running job (and, when the engine says, how long it still
    needs); False if the claim is no longer ``token``'s."""
    values: dict[str, Any] = {"progress": max(0.0, min(1.0, fraction)), "message": message[:200]}
    if preview_path is not None:
        values["preview_path"] = preview_path
    if eta_s is not None:
        values["eta_at"] = utcnow() + timedelta(seconds=max(0.0, eta_s))
    return _update_claimed(db_engine, job_id, token, **values)


# A finished job keeps no clip segments, no partial result and no training checkpoint
# (their files are removed by the worker that finished it).
_NO_CLIP_STATE = {"segments": [], "partial_path": None, "checkpoint_path": None}


def finish_job(db_engine: Engine, job_id: int, token: str, *, result_path: str,
               thumb_path: str | None, width: int, height: int,
               preview_path: str | None = None, strength_path: str | None = None,
               also: Callable[[Session], None] | None = None) -> bool:
    """Mark a running job succeeded with its result files (once: the token's claim ends);
    ``also(session)`` adds what stands or falls with it (a trained model's row)."""
    extra: dict[str, Any] = {"preview_path": preview_path} if preview_path else {}
    if strength_path:
        extra["strength_path"] = strength_path
    return _update_claimed(db_engine, job_id, token, also, state=JobState.SUCCEEDED,
                           progress=1.0, message="done", result_path=result_path,
                           thumb_path=thumb_path, width=width, height=height,
                           finished_at=utcnow(), **_NO_CLIP_STATE, **extra)


def record_checkpoint(db_engine: Engine, job_id: int, token: str, path: str) -> bool:
    """Name a training's newest committed checkpoint in the job row, only while ``token``
    holds the claim; False when it no longer does."""
    return _update_claimed(db_engine, job_id, token, checkpoint_path=path)


def record_segment(db_engine: Engine, job_id: int, token: str, segment: dict[str, Any]) -> bool:
    """Add a clip's committed segment to the job row (in index order, replacing one with the
    same index), only while ``token`` holds the claim; False when it no longer does."""
    with write_session(db_engine) as session:
        segments = session.scalar(
            select(Job.segments).where(Job.id == job_id, Job.state == JobState.RUNNING,
                                       Job.claim_token == token).with_for_update())
        if segments is None:
            return False
        kept = [s for s in segments if s.get("index") != segment["index"]] + [segment]
        result = session.execute(
            update(Job).where(Job.id == job_id, Job.state == JobState.RUNNING,
                              Job.claim_token == token)
            .values(segments=sorted(kept, key=lambda s: s["index"]), updated_at=utcnow())
            .execution_options(synchronize_session=False))
        session.commit()
        return result.rowcount == 1


def set_partial(db_engine: Engine, job_id: int, token: str, path: str) -> bool:
    """Name a running clip's playable partial result (fenced by ``token``)."""
    return _update_claimed(db_engine, job_id, token, partial_path=path)


def fail_job(db_engine: Engine, job_id: int, token: str, error: str) -> bool:
    """Mark a running job failed with a message a person can read."""
    return _update_claimed(db_engine, job_id, token, state=JobState.FAILED, error=error[:2000],
                           message="failed", finished_at=utcnow(), **_NO_CLIP_STATE)


def cancel_running_job(db_engine: Engine, job_id: int, token: str) -> bool:
    """Mark a running job cancelled (the worker calls this once the engine has stopped)."""
    return _update_claimed(db_engine, job_id, token, state=JobState.CANCELLED,
                           message="cancelled", finished_at=utcnow(), **_NO_CLIP_STATE)


def release_job(db_engine: Engine, job_id: int, token: str,
                message: str = "waiting in the queue (resumed after restart)",
                yielded: bool = False) -> bool:
    """Put a running job back in the queue (the worker is stopping, or its engine crashed
    and the job has attempts left). A job that ``yielded`` its worker to someone else's
    turn gets its attempt back: giving way is not a failed run."""
    values: dict[str, Any] = dict(state=JobState.QUEUED, worker_id=None, claim_token=None,
                                  progress=0.0, message=message[:200])
    if yielded:
        values["attempts"] = Job.attempts - 1
    return _update_claimed(db_engine, job_id, token, **values)


def others_waiting(db_engine: Engine, owner_id: str, priority: int = 0) -> bool:
    """Whether a queued job of another person (or one of higher priority) waits, or a queued
    piece of another person's clip (:mod:`app.jobs.pieces`): a running clip then gives way
    at its next segment boundary (:mod:`app.jobs.fairness`)."""
    others = (Job.owner_id != owner_id) | (Job.priority > priority)
    waiting_piece = exists().where(JobSegment.job_id == Job.id,
                                   JobSegment.state == PieceState.QUEUED)
    with Session(db_engine) as session:
        return session.scalar(select(Job.id).where(
            others, (Job.state == JobState.QUEUED) |
            ((Job.state == JobState.RUNNING) & waiting_piece)).limit(1)) is not None


def request_cancel(session: Session, job: Job) -> bool:
    """Cancel ``job``: a queued job is cancelled at once, a running one is flagged for its
    worker. Returns False when the job had already finished."""
    if job.state == JobState.QUEUED:
        begin_write(session)
        result = session.execute(
            update(Job).where(Job.id == job.id, Job.state == JobState.QUEUED)
            .values(state=JobState.CANCELLED, message="cancelled", finished_at=utcnow(),
                    updated_at=utcnow()).execution_options(synchronize_session=False))
        session.commit()
        if result.rowcount == 1:
            session.refresh(job)
            return True
        session.refresh(job)  # the worker claimed it meanwhile: flag it below
    if job.state == JobState.RUNNING:
        begin_write(session)
        session.execute(update(Job).where(Job.id == job.id)
                        .values(cancel_requested=True, message="cancelling")
                        .execution_options(synchronize_session=False))
        # a clip split between workers none of which is making a piece: nobody would see
        # the flag, so it ends here (its segment files are swept as nobody names them)
        idle = ~exists().where(JobSegment.job_id == Job.id,
                               JobSegment.state == PieceState.RUNNING)
        session.execute(update(Job).where(Job.id == job.id, Job.state == JobState.RUNNING,
                                          Job.claim_token.is_(None), unfinished_pieces(), idle)
                        .values(state=JobState.CANCELLED, message="cancelled",
                                finished_at=utcnow(), **_NO_CLIP_STATE)
                        .execution_options(synchronize_session=False))
        session.commit()
        session.refresh(job)
        return True
    return False


def is_cancel_requested(db_engine: Engine, job_id: int, token: str | None = None) -> bool:
    """True when somebody asked to cancel ``job_id``, it vanished, or (given ``token``) its
    claim is no longer ``token``'s: in every case its worker should stop."""
    with Session(db_engine) as session:
        row = session.execute(select(Job.cancel_requested, Job.claim_token)
                              .where(Job.id == job_id)).one_or_none()
    if row is None:
        return True
    return bool(row[0]) or (token is not None and row[1] != token)


ClaimStatus = Literal["ours", "cancel requested", "lost"]


def claim_status(db_engine: Engine, job_id: int, token: str) -> ClaimStatus:
    """Where a worker's claim on ``job_id`` stands: still ``ours``, ours but its owner asked
    to ``cancel requested``, or ``lost`` (taken over, finished, or the job deleted)."""
    with Session(db_engine) as session:
        row = session.execute(select(Job.state, Job.claim_token, Job.cancel_requested)
                              .where(Job.id == job_id)).one_or_none()
    if row is None or row[0] != JobState.RUNNING or row[1] != token:
        return "lost"
    return "cancel requested" if row[2] else "ours"


def job_state(db_engine: Engine, job_id: int) -> str | None:
    """The job's state now (None once it is deleted)."""
    with Session(db_engine) as session:
        return session.scalar(select(Job.state).where(Job.id == job_id))


def recover_interrupted_jobs(db_engine: Engine, max_attempts: int,
                             worker_ids: list[str] | None = None) -> int:
    """On start: jobs left ``running`` by a crash go back to the queue, or fail once they
    have used ``max_attempts`` runs. ``worker_ids`` limits this to one machine's workers
    (several machines sharing PostgreSQL); None means every running job."""
    where = [Job.state == JobState.RUNNING, ~unfinished_pieces()]
    if worker_ids is not None:
        where.append(Job.worker_id.in_(worker_ids))
    with write_session(db_engine) as session:
        failed = session.execute(
            update(Job).where(*where, Job.attempts >= max_attempts)
            .values(state=JobState.FAILED, message="failed", finished_at=utcnow(),
                    claim_token=None,
                    error=f"the server stopped during this job {max_attempts} times; "
                          "giving up (try a smaller size or another engine)")
            .execution_options(synchronize_session=False)).rowcount
        requeued = session.execute(
            update(Job).where(*where, Job.attempts < max_attempts)
            .values(state=JobState.QUEUED, worker_id=None, claim_token=None, progress=0.0,
                    message="waiting in the queue (resumed after restart)")
            .execution_options(synchronize_session=False)).rowcount
        session.commit()
        return failed + requeued


def queue_position(session: Session, job: Job) -> int:
    """How many queued jobs run before ``job``, in the fair order, plus one (0 when it is not
    queued; past a very long queue, counted by age)."""
    if job.state != JobState.QUEUED:
        return 0
    ahead = jobs_ahead(session, job)
    if ahead is not None:
        return len(ahead) + 1
    older = session.scalar(select(func.count()).select_from(Job)
                           .where(Job.state == JobState.QUEUED, Job.id < job.id))
    return int(older or 0) + 1


def list_gallery(session: Session, page: int = 1, per_page: int = 24) -> tuple[list[Job], int]:
    """Finished public results, newest first, one page of them, and the total count (none
    the admin hid, none their owner deleted; no trainings: a model is no picture, and a
    shared one is in the style library)."""
    visible = (Job.state == JobState.SUCCEEDED, Job.visibility == "public",
               Job.hidden.is_(False), Job.deleted_at.is_(None), Job.kind != "train")
    total = session.scalar(select(func.count()).select_from(Job).where(*visible)) or 0
    page = max(1, page)
    jobs = session.scalars(select(Job).where(*visible)
                           .order_by(Job.finished_at.desc(), Job.id.desc())
                           .offset((page - 1) * per_page).limit(per_page)).all()
    return list(jobs), int(total)


def get_job(session: Session, public_id: str) -> Job | None:
    """The job with this public id, or None."""
    return session.scalar(select(Job).where(Job.public_id == public_id))


def get_job_by_share_token(session: Session, token: str) -> Job | None:
    """The succeeded job shared under ``token`` (hidden ones too: the page says so), or None
    (deleted ones too)."""
    return session.scalar(select(Job).where(Job.share_token == token,
                                            Job.state == JobState.SUCCEEDED,
                                            Job.deleted_at.is_(None)))


def list_owner_jobs(session: Session, owner_id: str, page: int = 1,
                    per_page: int = 24) -> tuple[list[Job], int]:
    """Every job of ``owner_id`` in any state (not the deleted ones), newest first, one page
    of them, and the total count."""
    mine = (Job.owner_id == owner_id, Job.deleted_at.is_(None))
    total = session.scalar(select(func.count()).select_from(Job).where(*mine)) or 0
    jobs = session.scalars(select(Job).where(*mine).order_by(Job.id.desc())
                           .offset((max(1, page) - 1) * per_page).limit(per_page)).all()
    return list(jobs), int(total)


def update_details(session: Session, job: Job, **values: Any) -> None:
    """Change what people see of ``job`` (``title``, ``show_original``, the uploads' names,
    ``hidden``), never its state."""
    begin_write(session)
    for name, value in values.items():
        setattr(job, name, value)
    session.commit()


def add_finished_job(session: Session, **values: Any) -> Job:
    """Commit a job that is done already (a saved strength version), its files on disk."""
    begin_write(session)
    now = utcnow()
    values = {"started_at": now, **values}
    job = Job(state=JobState.SUCCEEDED, progress=1.0, message="done", finished_at=now,
              **values)
    session.add(job)
    session.commit()
    return job


def delete_job(session: Session, job: Job) -> list[str]:
    """Delete ``job``'s row (a running one is flagged for cancel first and kept until its
    worker stops). Returns the media paths the caller should remove (none when another
    process deleted the row first: its files are that process's to remove)."""
    if job.state == JobState.RUNNING:
        request_cancel(session, job)
        return []
    from app.people.styles import prune_unused_styles

    paths = job.media_paths()
    begin_write(session)
    gone = session.execute(delete(Job).where(Job.id == job.id)      # its job_styles cascade
                           .execution_options(synchronize_session=False)).rowcount
    session.commit()
    session.expunge(job)
    if not gone:
        return []
    return paths + prune_unused_styles(session)    # its styles, if nobody else uses them
