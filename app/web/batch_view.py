"""What the batch page and ``/api/batches`` show: the batch's photos with their jobs, the
progress of each and of the whole, the photos refused on the way in, and its links. A batch
is its owner's alone (404 for anyone else: its id says nothing to a stranger)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Literal

from fastapi import HTTPException
from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.db.batches import Batch
from app.db.models import JobState
from app.jobs.batches import BatchPhoto, batch_photos, get_batch, retryable
from app.storage import MediaStore
from app.web.batch_zip import result_names
from app.web.schemas import JobOut, job_out


class RefusedOut(BaseModel):
    """A photo (or ZIP member) that did not become a job, and why."""

    name: str
    reason: str


class BatchPhotoOut(BaseModel):
    """A photo of the batch: its name as uploaded and its job's id (None: deleted)."""

    name: str
    job: str | None


class BatchLinks(BaseModel):
    page: str
    download: str           # every finished result in one ZIP
    retry: str              # POST: the failed and cancelled ones again


class BatchOut(BaseModel):
    """A batch as the API shows it: ``jobs`` in the order the photos were sent."""

    id: str
    state: Literal["running", "finished"]
    progress: float         # the whole batch, 0..1 (a finished job counts whole)
    counts: dict[str, int]  # jobs per state
    retryable: int          # jobs that "retry the failed ones" would run again
    jobs: list[JobOut]
    photos: list[BatchPhotoOut]
    refused: list[RefusedOut]
    links: BatchLinks


def own_batch(session: Session, batch_id: str, owner_id: str) -> Batch:
    """The batch ``batch_id`` if ``owner_id`` owns its jobs (a browser's jobs carried over
    to an account or by a key link take their batch along), or made it and none is left;
    404 otherwise."""
    batch = get_batch(session, batch_id) if len(batch_id) <= 32 else None
    if batch is None:
        raise HTTPException(404, "no such batch")
    owners = {p.job.owner_id for p in batch_photos(session, batch) if p.job is not None}
    if owner_id not in owners and (owners or batch.owner_id != owner_id):
        raise HTTPException(404, "no such batch")
    return batch


def viewer_photos(session: Session, batch: Batch, owner_id: str) -> list[BatchPhoto]:
    """The batch's photos, a job that is no longer this viewer's counting as gone."""
    return [p if p.job is None or p.job.owner_id == owner_id
            else BatchPhoto(p.position, p.name, None) for p in batch_photos(session, batch)]


def batch_out(session: Session, batch: Batch, owner_id: str) -> BatchOut:
    """The JSON view of ``batch`` for its owner."""
    photos = viewer_photos(session, batch, owner_id)
    jobs = [p.job for p in photos if p.job is not None]
    counts = Counter(str(job.state) for job in jobs)
    done = sum(1.0 if job.is_finished else job.progress for job in jobs)
    base = f"/api/batches/{batch.public_id}"
    return BatchOut(
        id=batch.public_id,
        state="finished" if all(job.is_finished for job in jobs) else "running",
        progress=done / len(jobs) if jobs else 1.0,
        counts={state.value: counts.get(state.value, 0) for state in JobState},
        retryable=sum(retryable(p) for p in photos),
        jobs=[job_out(session, job, owner_id) for job in jobs],
        photos=[BatchPhotoOut(name=p.name, job=p.job.public_id if p.job else None)
                for p in photos],
        refused=[RefusedOut(**r) for r in batch.refused or []],
        links=BatchLinks(page=f"/batches/{batch.public_id}", download=f"{base}/download",
                         retry=f"{base}/retry"))


def finished_results(store: MediaStore, photos: list[BatchPhoto]) -> list[tuple[str, Path]]:
    """The finished results of ``photos`` (none the admin hid) with their names in the
    download."""
    done = [p for p in photos if p.job is not None and p.job.state == JobState.SUCCEEDED
            and not p.job.hidden and p.job.result_path and store.exists(p.job.result_path)]
    names = result_names([p.name for p in done],
                         [PurePosixPath(p.job.result_path or "").suffix for p in done
                          if p.job is not None])
    return [(name, store.path(p.job.result_path or "")) for name, p in zip(names, done)
            if p.job is not None]
