"""Who may do what, for the routers: finding a job (404), a job this visitor may read (410
when the admin hid it), a job this visitor owns (403), and the admin (its per-app state and
the ``require_admin`` dependency). Routers import these; nothing here imports a router.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from app.db.models import Job
from app.jobs.queue import get_job
from app.web.admin_access import admin_refusal
from app.web.deps import SessionDep, per_app
from app.web.limits import RateLimiter
from app.web.services.admin_downloads import DownloadTracker
from app.web.visibility import REMOVED, removed_for

SIGN_INS_PER_MINUTE = 10


# ----------------------------------------------------------------------------- the admin
@dataclass
class AdminState:
    """Per app: the sign-in cookie's key, the download tracker, the sign-in rate limit."""

    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    downloads: DownloadTracker = field(default_factory=DownloadTracker)
    sign_ins: RateLimiter = field(default_factory=lambda: RateLimiter(SIGN_INS_PER_MINUTE))


def admin_state(request: Request) -> AdminState:
    """This app's :class:`AdminState`, made on first use."""
    return per_app(request, "admin", AdminState)


def require_admin(request: Request) -> AdminState:
    """The admin state for an allowed request; 403 with the reason for anyone else."""
    state = admin_state(request)
    reason = admin_refusal(request, state.key)
    if reason is not None:
        raise HTTPException(403, reason)
    return state


AdminDep = Annotated[AdminState, Depends(require_admin)]


def viewer_is_admin(request: Request) -> bool:
    """Whether this request may use the admin page (and so moderate)."""
    return admin_refusal(request, admin_state(request).key) is None


# ----------------------------------------------------------------------------- jobs
def find_job(session: SessionDep, job_id: str) -> Job:
    """The job ``job_id`` (404 when there is none, or its owner deleted it)."""
    job = get_job(session, job_id)
    if job is None or job.deleted_at is not None:
        raise HTTPException(404, "no such job")
    return job


def visible_job(session: Session, job_id: str, owner: str, request: Request) -> Job:
    """:func:`find_job` for reading: 410 when the admin hid the result from this visitor
    (only its owner and the admin still see it, as on the pages)."""
    job = find_job(session, job_id)
    if removed_for(job, owner, viewer_is_admin(request)):
        raise HTTPException(410, REMOVED)
    return job


def own_job(session: SessionDep, job_id: str, owner: str) -> Job:
    """:func:`find_job` for changing it: 403 unless this visitor created it."""
    job = find_job(session, job_id)
    if job.owner_id != owner:
        raise HTTPException(403, "only the person who created this job may change it")
    return job
