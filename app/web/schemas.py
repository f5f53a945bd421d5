"""Response models of the JSON API (so OpenAPI says exactly what comes back), and the one
function that turns a job row into what pages and the API show."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import FastModel, Job, JobState, as_utc, utcnow
from app.jobs.estimates import job_timing, measured_runs
from app.jobs.queue import queue_position
from app.people.social import comment_count, job_author, like_count
from app.people.titles import display_title


class JobLinks(BaseModel):
    page: str
    result: str | None = None
    thumb: str | None = None
    preview: str | None = None
    poster: str | None = None
    partial: str | None = None      # a running clip's playable first part
    content: str | None = None      # the original photo: its owner, or anyone if shown
    styles: list[str] = []
    share: str | None = None
    download: str | None = None     # the result as an attachment with a readable name
    strength: str | None = None     # the owner's instant strength preview (fast engines)
    model: str | None = None        # a finished training: the page of the model it made


class JobOut(BaseModel):
    """A job as the API shows it."""

    id: str
    kind: Literal["image", "video", "train"]
    state: JobState
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
    wait_s: float | None            # a queued job: seconds until it starts (estimate)
    eta_s: float | None             # seconds until it is done (estimate)
    # recent runs of its engine on this server that wait_s and eta_s come from (0: none yet,
    # so no estimate; None once it has finished)
    measured_runs: int | None
    title: str                      # as typed by its owner, else "Untitled" (its owner
                                    # alone: else from the content file's name)
    title_chosen: bool              # typed by its owner: the title everyone sees
    show_original: bool             # whether others may see the original photo
    hidden: bool                    # hidden from others by the studio's admin
    is_owner: bool
    links: JobLinks
    # the community (a finished public result; 0 and None otherwise): its likes, its shown
    # comments, and the account that made it (None: an anonymous browser's)
    likes: int = 0
    comments: int = 0
    author: str | None = None       # the account's name (its profile is /u/<author>)
    author_name: str | None = None  # its display name


PER_PAGE = 24               # results on a page of a list (gallery, my results)
MAX_PAGE = 1_000_000


class GalleryOut(BaseModel):
    page: int
    per_page: int
    total: int
    pages: int
    jobs: list[JobOut]
    # a feed (the gallery's tabs, a profile): which one, and the moment it is read as of in
    # milliseconds since 1970 (pass it back with the next page: the order stays put while
    # new results arrive)
    tab: str | None = None
    as_of: int | None = None


class ErrorOut(BaseModel):
    """A refusal: ``detail`` says why in words (a list only from older servers)."""

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


def _elapsed(job: Job) -> float | None:
    started, finished = as_utc(job.started_at), as_utc(job.finished_at)
    if started is None or job.state == JobState.QUEUED:
        return None
    return ((finished or utcnow()) - started).total_seconds()



class HiddenIn(BaseModel):
    """The admin's ``{"hidden": true}``: take a result or a style out of view (or back)."""

    hidden: bool

def job_out(session: Session, job: Job, owner_id: str | None,
            is_admin: bool = False) -> JobOut:
    """The JSON view of ``job`` for the visitor ``owner_id`` (the original photo only for
    its owner, or when the owner chose to show it; no file at all of a result the admin
    hid, but for the admin)."""
    wait, eta = job_timing(session, job)
    is_owner = owner_id == job.owner_id
    social = result_social(session, job, is_owner)
    links = JobLinks(page=f"/jobs/{job.public_id}") if job.hidden and not is_admin \
        else file_links(job, is_owner)
    if job.kind == "train" and job.state == JobState.SUCCEEDED:
        links.model, links.result, links.download = trained_model_page(session, job), None, None
    return JobOut(id=job.public_id, kind=job.kind, state=job.state, engine=job.engine,
                  options=job.options, progress=job.progress, message=job.message,
                  error=job.error, queue_position=queue_position(session, job),
                  visibility=job.visibility, width=job.width, height=job.height,
                  created_at=as_utc(job.created_at), started_at=as_utc(job.started_at),
                  finished_at=as_utc(job.finished_at), elapsed_s=_elapsed(job), wait_s=wait,
                  eta_s=eta, measured_runs=measured_runs(session, job),
                  title=display_title(job, owner_id), title_chosen=bool(job.title),
                  show_original=job.show_original, hidden=job.hidden, is_owner=is_owner,
                  links=links, **social)


def result_social(session: Session, job: Job, is_owner: bool) -> dict[str, Any]:
    """A finished result's likes, comments and author, as :class:`JobOut` carries them (the
    author of a public one, or for its owner)."""
    if job.state != JobState.SUCCEEDED:
        return {}
    author = job_author(session, job) if is_owner or job.visibility == "public" else None
    return {"likes": like_count(session, job.id), "comments": comment_count(session, job.id),
            "author": author[0] if author else None, "author_name": author[1] if author else None}


def trained_model_page(session: Session, job: Job) -> str | None:
    """The page of the model the training ``job`` made (None once it was deleted)."""
    found = session.scalar(select(FastModel.public_id).where(FastModel.job_id == job.id))
    return f"/models/{found}" if found else None


def job_style_url(job: Job, position: int) -> str:
    """URL of a job's style image (served by the job, which checks who may see it)."""
    return f"/jobs/{job.public_id}/styles/{position}"


def file_links(job: Job, is_owner: bool) -> JobLinks:
    """The links to ``job``'s files (the original photo only for its owner, or when the
    owner chose to show it)."""
    done = job.state == JobState.SUCCEEDED
    original = is_owner or job.show_original
    return JobLinks(
        page=f"/jobs/{job.public_id}",
        result=media_url(job.result_path) if done else None,
        thumb=media_url(job.thumb_path) if done else None,
        preview=media_url(job.preview_path, as_utc(job.updated_at))
        if job.kind == "image" or job.state == JobState.RUNNING else None,
        poster=media_url(job.preview_path) if done and job.kind == "video" else None,
        # rewritten in place as segments are committed: versioned by their count, so a
        # player reloads only for news (not on every progress report)
        partial=f"{media_url(job.partial_path)}?v={len(job.segments or [])}"
        if job.state == JobState.RUNNING and job.partial_path else None,
        content=media_url(job.content_path) if job.kind == "image" and original else None,
        styles=[job_style_url(job, i) for i in range(len(job.style_paths))],
        share=f"/s/{job.share_token}" if done else None,
        download=f"/jobs/{job.public_id}/download" if done else None,
        strength=f"/api/jobs/{job.public_id}/strength-preview"
        if done and is_owner and job.strength_path else None,
    )
