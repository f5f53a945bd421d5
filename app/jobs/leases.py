"""Leases: every worker heartbeats its row in ``workers``; the jobs of workers that stopped
heartbeating go back to the queue, taken over by any live worker.

The database is the only coordinator, and its clock the only clock (:mod:`app.db.clock`):

- A worker process registers a row per worker thread before any of them claims a job; its
  :class:`LeaseKeeper` thread (which never waits on a job) sets ``last_heartbeat`` to the
  database's now (:class:`~app.db.clock.db_now`) every ``lease / 3`` seconds. A clean
  stop deletes the rows.
- In the same round, after a heartbeat that worked, the keeper takes back the running jobs
  whose worker's heartbeat is older than the lease, or which have not changed for a lease
  and whose worker has no row at all (rows from before the workers table, a row deleted)
  or a row that names another job (:func:`lease_expired`; a clip split between workers is
  held by its pieces instead, each with a lease of its own: :mod:`app.jobs.pieces`): one ``UPDATE … WHERE id = ?
  AND state = 'running' AND claim_token = ? AND <lease expired>`` per job, which re-queues
  it (or fails it once it has used its attempts) and clears ``claim_token``, so the old
  holder, should it wake up, is fenced (:mod:`app.jobs.queue`). Two keepers racing for one
  job cannot both win: the second finds the token gone.
- Rows whose heartbeat is older than :func:`forget_after_s` are deleted.

A job is taken over between ``lease`` and ``lease + lease / 3`` seconds after its worker's
last heartbeat (measured: docs/scaling.md).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, delete, exists, or_, select, update
from sqlalchemy.orm import Session

from app.db.clock import db_now, seconds_ago, seconds_since
from app.db.engine import write_session
from app.db.models import Job, JobState, WorkerRecord, utcnow
from app.jobs.pieces import take_back_expired_pieces
from app.jobs.queue import release_worker_rows, unfinished_pieces

log = logging.getLogger("dreamgen.leases")

TAKEN_OVER = "waiting in the queue (its worker stopped answering; taken over)"
GAVE_UP = ("the worker running this job stopped answering; the job ran {count} times without "
           "finishing, so it was given up (try a smaller size or another engine)")
FORGET_AFTER_MIN_S = 3600.0


@dataclass(frozen=True)
class WorkerIdentity:
    """Who a worker is: its id (``<host>-<pid>-w<N>``), machine, process and device."""

    id: str
    host: str
    pid: int
    device: str


@dataclass(frozen=True)
class WorkerStatus:
    """A worker row as the CLI, the admin page and /metrics show it."""

    id: str
    host: str
    pid: int
    device: str
    job_id: int | None
    job_public_id: str | None
    started_at: datetime
    heartbeat_age_s: float
    alive: bool


def heartbeat_interval_s(lease_s: float) -> float:
    """How often a worker heartbeats: three times per lease, so one lost beat is harmless."""
    return lease_s / 3.0


def forget_after_s(lease_s: float) -> float:
    """How long a stale worker row stays listed (so operators see which machine went)."""
    return max(FORGET_AFTER_MIN_S, 10.0 * lease_s)


# ----------------------------------------------------------------------------- rows
def register_workers(db_engine: Engine, workers: list[WorkerIdentity]) -> None:
    """Create (or refresh) the rows of ``workers``, heartbeat now, no current job."""
    with write_session(db_engine) as session:
        for worker in workers:
            values = dict(host=worker.host, pid=worker.pid, device=worker.device, job_id=None,
                          started_at=db_now(), last_heartbeat=db_now())
            updated = session.execute(update(WorkerRecord).where(WorkerRecord.id == worker.id)
                                      .values(**values)).rowcount
            if not updated:
                session.add(WorkerRecord(id=worker.id, **values))
        session.commit()


def heartbeat(db_engine: Engine, workers: list[WorkerIdentity]) -> None:
    """One heartbeat for ``workers`` on the database's clock; a row that is gone (deleted
    while this process was paused for a long time) is registered again."""
    ids = [w.id for w in workers]
    with write_session(db_engine) as session:
        beaten = session.execute(update(WorkerRecord).where(WorkerRecord.id.in_(ids))
                                 .values(last_heartbeat=db_now())).rowcount
        session.commit()
    if beaten < len(ids):
        with Session(db_engine) as session:
            present = set(session.scalars(select(WorkerRecord.id)
                                          .where(WorkerRecord.id.in_(ids))).all())
        missing = [w for w in workers if w.id not in present]
        log.warning("worker row(s) %s had gone; registering again", [w.id for w in missing])
        register_workers(db_engine, missing)


def unregister_workers(db_engine: Engine, worker_ids: list[str]) -> None:
    """Delete the rows of workers that stopped cleanly."""
    with write_session(db_engine) as session:
        session.execute(delete(WorkerRecord).where(WorkerRecord.id.in_(worker_ids)))
        session.commit()


def set_current_job(db_engine: Engine, worker_id: str, job_id: int | None) -> None:
    """Record which job ``worker_id`` runs (None once it is done); for display only."""
    with write_session(db_engine) as session:
        session.execute(update(WorkerRecord).where(WorkerRecord.id == worker_id)
                        .values(job_id=job_id))
        session.commit()


def forget_stale_workers(db_engine: Engine, older_than_s: float) -> int:
    """Delete rows whose heartbeat is older than ``older_than_s``; returns how many."""
    with write_session(db_engine) as session:
        gone = session.execute(delete(WorkerRecord)
                               .where(WorkerRecord.last_heartbeat < seconds_ago(older_than_s))
                               ).rowcount
        session.commit()
    return gone


# ----------------------------------------------------------------------------- takeover
def lease_expired(lease_s: float) -> ColumnElement[bool]:
    """SQL, true for a job whose holder's lease ran out: its worker's heartbeat is older
    than the lease; or the job is unchanged for a lease and no worker row names it (the
    worker has no row, or moved on without recording this job's end, e.g. because the
    database refused that write)."""
    expired = seconds_ago(lease_s)
    its_worker = WorkerRecord.id == Job.worker_id
    silent = exists().where(its_worker, WorkerRecord.last_heartbeat < expired)
    held = exists().where(its_worker, WorkerRecord.job_id == Job.id)
    return and_(or_(silent, and_(Job.updated_at < expired, ~held)), ~unfinished_pieces())


def expired_claims(session: Session, lease_s: float) -> list[Any]:
    """Running jobs whose lease ran out (:func:`lease_expired`): (id, public_id, worker_id,
    claim_token, attempts)."""
    return list(session.execute(
        select(Job.id, Job.public_id, Job.worker_id, Job.claim_token, Job.attempts)
        .where(Job.state == JobState.RUNNING, lease_expired(lease_s))
        .order_by(Job.id)).all())


def take_back_job(db_engine: Engine, job_id: int, token: str | None, attempts: int,
                  max_attempts: int, lease_s: float) -> bool:
    """Re-queue a running job whose worker's lease ran out, or fail it once it has used
    ``max_attempts`` runs; clears its claim token (fencing the old holder). One UPDATE that
    checks the lease again, so a worker that heartbeat meanwhile keeps its job. False when
    nothing changed (the claim moved, the job finished, another keeper won, the worker
    came back)."""
    if attempts >= max_attempts:
        values: dict[str, Any] = dict(state=JobState.FAILED, message="failed",
                                      error=GAVE_UP.format(count=attempts),
                                      finished_at=utcnow())
    else:
        values = dict(state=JobState.QUEUED, worker_id=None, progress=0.0, message=TAKEN_OVER)
    with write_session(db_engine) as session:
        changed = session.execute(
            update(Job).where(Job.id == job_id, Job.state == JobState.RUNNING,
                              Job.claim_token.is_not_distinct_from(token),
                              lease_expired(lease_s))
            .values(claim_token=None, updated_at=utcnow(), **values)
            .execution_options(synchronize_session=False)).rowcount
        if changed:
            release_worker_rows(session, job_id)
        session.commit()
    return changed == 1


def take_back_expired_jobs(db_engine: Engine, lease_s: float, max_attempts: int) -> int:
    """Take back every job whose lease ran out (:func:`take_back_job`); returns how many."""
    with Session(db_engine) as session:
        claims = expired_claims(session, lease_s)
    taken = 0
    for job_id, public_id, worker_id, token, attempts in claims:
        if take_back_job(db_engine, job_id, token, attempts, max_attempts, lease_s):
            taken += 1
            outcome = "failed: attempts used up" if attempts >= max_attempts else "re-queued"
            log.warning("job %s: worker %s stopped answering (no heartbeat for over %.0f s); %s "
                        "(attempt %d of %d)", public_id, worker_id, lease_s, outcome, attempts,
                        max_attempts)
    return taken


# ----------------------------------------------------------------------------- listing
def list_workers(session: Session, lease_s: float) -> list[WorkerStatus]:
    """Every worker row, oldest first, with its heartbeat age on the database's clock and
    the job it runs: only a running job that this worker holds (a row left naming a job
    that another worker took over or finished names none)."""
    held = and_(Job.id == WorkerRecord.job_id, Job.worker_id == WorkerRecord.id,
                Job.state == JobState.RUNNING)
    rows = session.execute(
        select(WorkerRecord, seconds_since(WorkerRecord.last_heartbeat), Job.id, Job.public_id)
        .outerjoin(Job, held)
        .order_by(WorkerRecord.started_at, WorkerRecord.id)).all()
    return [WorkerStatus(id=w.id, host=w.host, pid=w.pid, device=w.device, job_id=job_id,
                         job_public_id=public_id, started_at=w.started_at,
                         heartbeat_age_s=max(0.0, float(age or 0.0)),
                         alive=float(age or 0.0) <= lease_s)
            for w, age, job_id, public_id in rows]


# ----------------------------------------------------------------------------- the thread
class LeaseKeeper(threading.Thread):
    """Heartbeats one process's workers every ``lease / 3`` s, takes back the jobs of
    workers that stopped, forgets long-dead rows. Never waits on a job."""

    def __init__(self, db_engine: Engine, workers: list[WorkerIdentity], lease_s: float,
                 max_attempts: int) -> None:
        super().__init__(name="dreamgen-leases", daemon=True)
        self.db_engine, self.workers = db_engine, workers
        self.lease_s, self.max_attempts = lease_s, max_attempts
        self.interval_s = heartbeat_interval_s(lease_s)
        self._stopping = threading.Event()
        self._last_beat = time.monotonic()

    def run(self) -> None:
        self.beat_once()                 # take back what died while nobody was running
        while not self._stopping.wait(self.interval_s):
            self.beat_once()

    def beat_once(self) -> None:
        """Heartbeat, then (only if that worked: a worker cut off from the database must not
        judge others) take back expired jobs and forget long-dead rows."""
        try:
            heartbeat(self.db_engine, self.workers)
        except Exception as exc:  # noqa: BLE001 - the database may be down; try again later
            log.warning("heartbeat failed (%s: %s); retrying in %.0f s", type(exc).__name__,
                        exc, self.interval_s)
            return
        self._last_beat = time.monotonic()
        try:
            take_back_expired_jobs(self.db_engine, self.lease_s, self.max_attempts)
            take_back_expired_pieces(self.db_engine, self.lease_s, self.max_attempts)
            forget_stale_workers(self.db_engine, forget_after_s(self.lease_s))
        except Exception:  # noqa: BLE001 - next round tries again
            log.exception("taking back expired jobs failed; retrying in %.0f s", self.interval_s)

    def lease_lost(self) -> bool:
        """True when no heartbeat has worked for a whole lease: other workers may have taken
        this process's jobs (a worker cut off from the database stops its engine on this)."""
        return time.monotonic() - self._last_beat > self.lease_s

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stopping.set()
        if self.is_alive():
            self.join(timeout_s)
