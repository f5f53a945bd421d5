"""Batches in the database: opening one, adding its photos' jobs as they are queued, reading
it back with its jobs, and pointing a retried photo at its new job. The jobs themselves are
ordinary jobs (:mod:`app.jobs.queue`): the fair queue, the per-person cap and the allowances
treat each on its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.batches import Batch, BatchItem
from app.db.engine import begin_write
from app.db.models import Job, JobState


@dataclass(frozen=True)
class BatchPhoto:
    """One photo of a batch: its position, its name as uploaded, its current job (None once
    that job is deleted)."""

    position: int
    name: str
    job: Job | None


def open_batch(session: Session, owner_id: str) -> Batch:
    """Commit an empty batch for ``owner_id`` (its photos are added as their jobs queue)."""
    begin_write(session)
    batch = Batch(owner_id=owner_id, refused=[])
    session.add(batch)
    session.commit()
    return batch


def add_photo(session: Session, batch: Batch, position: int, name: str, job: Job) -> None:
    """Record that the photo ``name`` of ``batch`` became ``job``."""
    begin_write(session)
    session.add(BatchItem(batch_id=batch.id, position=position, name=name, job_id=job.id))
    session.commit()


def close_batch(session: Session, batch: Batch, refused: list[dict[str, Any]]) -> None:
    """Keep the photos that were refused on the way in, with their reasons."""
    begin_write(session)
    batch.refused = refused
    session.commit()


def drop_batch(session: Session, batch: Batch) -> None:
    """Delete a batch none of whose photos became a job (its items go with it)."""
    session.rollback()
    begin_write(session)
    session.delete(batch)
    session.commit()


def get_batch(session: Session, public_id: str) -> Batch | None:
    return session.scalar(select(Batch).where(Batch.public_id == public_id))


def batch_photos(session: Session, batch: Batch) -> list[BatchPhoto]:
    """The batch's photos in the order sent, each with its current job (a job in the trash
    counts as gone)."""
    rows = session.execute(select(BatchItem, Job).outerjoin(Job, Job.id == BatchItem.job_id)
                           .where(BatchItem.batch_id == batch.id)
                           .order_by(BatchItem.position)).all()
    return [BatchPhoto(item.position, item.name,
                       job if job is not None and job.deleted_at is None else None)
            for item, job in rows]


def retryable(photo: BatchPhoto) -> bool:
    """Whether "retry the failed ones" runs this photo again (it failed or was cancelled)."""
    return photo.job is not None and photo.job.state in (JobState.FAILED, JobState.CANCELLED)


def point_photo(session: Session, batch: Batch, position: int, job: Job) -> None:
    """The photo at ``position`` is now made by ``job`` (a retry)."""
    begin_write(session)
    item = session.get(BatchItem, (batch.id, position))
    if item is not None:
        item.job_id = job.id
    session.commit()
