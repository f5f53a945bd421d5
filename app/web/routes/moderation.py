"""Moderation: the admin (:mod:`app.web.admin_access`) may hide or delete any result.

A hidden result leaves the gallery; its share page says it was removed, its pages answer
only its owner (saying so) and the admin, its files only the admin, and nothing makes it
public again (:mod:`app.web.visibility`). Deleting removes the
row and the files at once (no undo: the admin means it). The buttons sit on the result page
for the admin and beside the recent public results on ``/admin``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.db.models import Job, JobState
from app.engine.registry import BY_NAME
from app.jobs.queue import update_details
from app.people.titles import display_title
from app.people.trash import remove_for_good
from app.web.access import find_job, require_admin
from app.web.deps import OwnerDep, SessionDep, StoreDep
from app.web.schemas import HiddenIn, JobOut, job_out, media_url

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_admin)])
RECENT_PUBLIC = 24


def safe_next(next_url: str, fallback: str = "/admin") -> str:
    """Where to go after a form post: a path on this site only."""
    return next_url if next_url.startswith("/") and not next_url.startswith("//") else fallback


def recent_public_results(request: Request, limit: int = RECENT_PUBLIC) -> list[dict[str, Any]]:
    """The newest public results, hidden ones included, for the admin page (empty when the
    database does not answer)."""
    db_engine = getattr(request.app.state, "db_engine", None)
    if db_engine is None:
        return []
    try:
        with Session(db_engine) as session:
            jobs = session.scalars(select(Job).where(Job.state == JobState.SUCCEEDED,
                                                     Job.visibility == "public",
                                                     Job.deleted_at.is_(None))
                                   .order_by(Job.finished_at.desc(), Job.id.desc())
                                   .limit(limit)).all()
    except SQLAlchemyError:
        return []
    return [{"id": j.public_id, "title": display_title(j), "hidden": j.hidden,
             "thumb": media_url(j.thumb_path),
             "engine": BY_NAME[j.engine].label if j.engine in BY_NAME else j.engine}
            for j in jobs]


@router.post("/admin/jobs/{job_id}/hide")
def hide_from_form(job_id: str, session: SessionDep,
                   hidden: Annotated[bool, Form()] = True,
                   next: Annotated[str, Form()] = "/admin") -> Response:
    update_details(session, find_job(session, job_id), hidden=hidden)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/admin/jobs/{job_id}/delete")
def delete_from_form(job_id: str, session: SessionDep, store: StoreDep) -> Response:
    remove_for_good(session, store, find_job(session, job_id))
    return RedirectResponse("/admin?notice=deleted#moderation", status_code=303)


@router.post("/api/admin/jobs/{job_id}/hide", response_model=JobOut)
def hide_job(job_id: str, body: HiddenIn, session: SessionDep, owner: OwnerDep) -> JobOut:
    """Hide (or show again) a result: out of the gallery, its share page says removed."""
    job = find_job(session, job_id)
    update_details(session, job, hidden=body.hidden)
    return job_out(session, job, owner, is_admin=True)


@router.delete("/api/admin/jobs/{job_id}", status_code=204)
def delete_job_now(job_id: str, session: SessionDep, store: StoreDep) -> Response:
    """Delete any job and its files now."""
    remove_for_good(session, store, find_job(session, job_id))
    return Response(status_code=204)
