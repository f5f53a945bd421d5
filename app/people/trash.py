"""Deleting with an undo: a deleted job is hidden at once and removed for good (row and files)
:data:`UNDO_S` seconds later, unless its owner undoes it first.

A queued job is cancelled when it is deleted and a running one is asked to stop; the row
goes once its worker has let go of it. :class:`TrashCollector` removes what is due every
few seconds in each web process (harmless when several do: only the one whose delete
takes the row removes the files).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from app.db.engine import begin_write
from app.db.models import Job, JobState, as_utc, utcnow
from app.jobs.queue import delete_job, request_cancel
from app.storage import MediaStore

log = logging.getLogger("dreamgen.trash")

UNDO_S = 30.0              # how long "Undo" is offered after a delete
COLLECT_EVERY_S = 5.0


def trash_job(session: Session, job: Job, undo: bool = True) -> datetime:
    """Hide ``job`` as deleted (stopping it first if it is queued or running); returns until
    when it can be restored. ``undo=False`` (the admin's delete) leaves no undo window: the
    job goes at the collector's next pass once no worker holds it."""
    if job.state in (JobState.QUEUED, JobState.RUNNING):
        request_cancel(session, job)
    begin_write(session)
    now = utcnow() if undo else utcnow() - timedelta(seconds=UNDO_S + 1)
    session.execute(update(Job).where(Job.id == job.id).values(deleted_at=now)
                    .execution_options(synchronize_session=False))
    session.commit()
    session.refresh(job)
    return now + timedelta(seconds=UNDO_S)


def remove_for_good(session: Session, store: MediaStore, job: Job) -> None:
    """Delete ``job`` and its files now, no undo (the admin's delete, a deleted account's
    jobs): a running one is stopped first, then removed by the collector once its worker
    lets go."""
    if job.state == JobState.RUNNING:
        trash_job(session, job, undo=False)
        return
    store.remove(delete_job(session, job))


def undo_deadline(job: Job) -> datetime | None:
    """Until when a deleted job can be restored (None: not deleted, or too late)."""
    deleted = as_utc(job.deleted_at)
    if deleted is None:
        return None
    deadline = deleted + timedelta(seconds=UNDO_S)
    return deadline if deadline > utcnow() else None


def restore_job(session: Session, job: Job) -> bool:
    """Undo the delete of ``job`` while it is still in time; False when it is too late."""
    if undo_deadline(job) is None:
        return False
    begin_write(session)
    restored = session.execute(update(Job).where(Job.id == job.id, Job.deleted_at.is_not(None))
                               .values(deleted_at=None)
                               .execution_options(synchronize_session=False)).rowcount
    session.commit()
    session.refresh(job)
    return restored == 1


def purge_due(db_engine: Engine, store: MediaStore, now: datetime | None = None) -> int:
    """Remove every job deleted more than :data:`UNDO_S` ago that no worker holds, with its
    files; returns how many went."""
    cutoff = (now or utcnow()) - timedelta(seconds=UNDO_S)
    removed = 0
    # expire_on_commit off: each delete commits, and the other rows loaded must stay readable
    with Session(db_engine, expire_on_commit=False) as session:
        due = session.scalars(select(Job).where(Job.deleted_at.is_not(None),
                                                Job.deleted_at <= cutoff,
                                                Job.state != JobState.RUNNING)).all()
        for job in due:
            paths = delete_job(session, job)   # as the API's DELETE: library included
            if paths:                          # none: another web process took it first
                store.remove(paths)
                removed += 1
    return removed


class TrashCollector(threading.Thread):
    """Calls :func:`purge_due` every :data:`COLLECT_EVERY_S` seconds until stopped."""

    def __init__(self, db_engine: Engine, store: MediaStore) -> None:
        super().__init__(name="dreamgen-trash", daemon=True)
        self.db_engine, self.store = db_engine, store
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(COLLECT_EVERY_S):
            try:
                purge_due(self.db_engine, self.store)
            except Exception:  # noqa: BLE001 - the next round tries again
                log.warning("removing deleted jobs failed; trying again", exc_info=True)

    def stop(self) -> None:
        self._stopping.set()
        self.join(COLLECT_EVERY_S + 5)
