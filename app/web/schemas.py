"""Response models of the JSON API (so OpenAPI says exactly what comes back), and the one
function that turns a job row into what pages and the API show."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.jobs.models import Job, JobState, as_utc, utcnow
from app.jobs.queue import queue_position


class JobLinks(BaseModel):
    page: str
    result: str | None = None
    thumb: str | None = None
    preview: str | None = None
    poster: str | None = None
    partial: str | None = None      # a running clip's playable first part
    content: str | None = None
    styles: list[str] = []
    share: str | None = None


class JobOut(BaseModel):
    """A job as the API shows it."""

    id: str
    kind: Literal["image", "video"]
    state: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    engine: str
    options: dict[str, Any]
    progress: float
    message: str
    error: str | None
    queue_position: int
    visibility: Literal["public", "unlisted"]
    width: int | None
    height: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    elapsed_s: float | None
    eta_s: float | None
    is_owner: bool
    links: JobLinks


class GalleryOut(BaseModel):
    page: int
    per_page: int
    total: int
    pages: int
    jobs: list[JobOut]


class ErrorOut(BaseModel):
    """A refusal: ``detail`` says why in words (FastAPI's own field errors give a list)."""

    detail: str | list[dict[str, Any]]


ERRORS = {code: {"model": ErrorOut} for code in (403, 404, 409, 413, 415, 422, 429, 507)}


class EngineOut(BaseModel):
    """An engine as the API shows it (``ready``: installed on this server)."""

    name: str
    label: str
    technical: str
    summary: str
    mode: Literal["style", "dream"]
    video: bool
    iterative: bool
    needs_style: bool
    ready: bool


def media_url(rel: str | None, version: datetime | None = None) -> str | None:
    """URL of a media file; ``version`` busts caches for files rewritten in place."""
    if not rel:
        return None
    return f"/media/{rel}" + (f"?v={int(version.timestamp() * 1000)}" if version else "")


def _timing(job: Job) -> tuple[float | None, float | None]:
    started, finished = as_utc(job.started_at), as_utc(job.finished_at)
    if started is None:
        return None, None
    elapsed = ((finished or utcnow()) - started).total_seconds()
    if job.state != JobState.RUNNING or job.progress < 0.02:
        return elapsed, None
    return elapsed, elapsed * (1 - job.progress) / job.progress


def job_out(session: Session, job: Job, owner_id: str | None) -> JobOut:
    """The JSON view of ``job`` for the visitor ``owner_id``."""
    elapsed, eta = _timing(job)
    done = job.state == JobState.SUCCEEDED
    links = JobLinks(
        page=f"/jobs/{job.public_id}",
        result=media_url(job.result_path) if done else None,
        thumb=media_url(job.thumb_path) if done else None,
        preview=media_url(job.preview_path, as_utc(job.updated_at))
        if job.kind == "image" or job.state == JobState.RUNNING else None,
        poster=media_url(job.preview_path) if done and job.kind == "video" else None,
        partial=media_url(job.partial_path, as_utc(job.updated_at))
        if job.state == JobState.RUNNING else None,
        content=media_url(job.content_path) if job.kind == "image" else None,
        styles=[media_url(p) or "" for p in job.style_paths],
        share=f"/s/{job.share_token}" if done else None,
    )
    return JobOut(id=job.public_id, kind=job.kind, state=job.state, engine=job.engine,
                  options=job.options, progress=job.progress, message=job.message,
                  error=job.error, queue_position=queue_position(session, job),
                  visibility=job.visibility, width=job.width, height=job.height,
                  created_at=as_utc(job.created_at), started_at=as_utc(job.started_at),
                  finished_at=as_utc(job.finished_at), elapsed_s=elapsed, eta_s=eta,
                  is_owner=owner_id == job.owner_id, links=links)
