"""What an owner does with a job after it is made: retry it with the same settings, delete it
with an undo, restore it, retitle it, show or hide its original photo. Each has a JSON
endpoint and a plain form post (the pages work without JavaScript)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.db.models import Job
from app.jobs.queue import get_job, update_details
from app.people.trash import restore_job, trash_job
from app.web.access import own_job
from app.web.create.details import DetailsIn, changed_details
from app.web.create.retry import retry_job
from app.web.deps import OwnerDep, SessionDep, SettingsDep, StoreDep, WeightsDep
from app.web.limits import check_rate
from app.web.middleware.owner import private_response
from app.web.schemas import ERRORS, JobOut, job_out

# every answer is the owner's own job (JSON) or a redirect: never cached
router = APIRouter(tags=["api"], responses=ERRORS, dependencies=[Depends(private_response)])


class TrashOut(BaseModel):
    """A deleted job: restorable with ``POST /api/jobs/{id}/restore`` until ``undo_until``."""

    id: str
    undo_until: datetime


def own_deleted_job(session: Session, job_id: str, owner: str) -> Job:
    """A job of ``owner``'s, deleted or not (restoring needs the deleted ones)."""
    job = get_job(session, job_id)
    if job is None:
        raise HTTPException(404, "no such job")
    if job.owner_id != owner:
        raise HTTPException(403, "only the person who created this job may change it")
    return job


def restore_or_refuse(session: Session, job: Job) -> None:
    if job.deleted_at is None:
        return
    if not restore_job(session, job):
        raise HTTPException(409, "too late to undo: this job is being removed for good")


# ----------------------------------------------------------------------------- JSON
@router.post("/api/jobs/{job_id}/retry", status_code=201, response_model=JobOut)
def post_retry(job_id: str, request: Request, session: SessionDep, settings: SettingsDep,
               store: StoreDep, weights: WeightsDep, owner: OwnerDep) -> JobOut:
    """Queue the job again with the same files and settings (owner only)."""
    check_rate(request)
    job = retry_job(session, store, settings, weights, own_job(session, job_id, owner))
    request.app.state.wake_workers()
    return job_out(session, job, owner)


@router.post("/api/jobs/{job_id}/trash", response_model=TrashOut)
def post_trash(job_id: str, session: SessionDep, owner: OwnerDep) -> TrashOut:
    """Delete with an undo: the job disappears now and is removed for good (with its files)
    after the undo window; a queued or running job is cancelled (owner only)."""
    until = trash_job(session, own_job(session, job_id, owner))
    return TrashOut(id=job_id, undo_until=until)


@router.post("/api/jobs/{job_id}/restore", response_model=JobOut)
def post_restore(job_id: str, session: SessionDep, owner: OwnerDep) -> JobOut:
    """Undo a delete within its window (409 once it is too late; owner only)."""
    job = own_deleted_job(session, job_id, owner)
    restore_or_refuse(session, job)
    return job_out(session, job, owner)


@router.patch("/api/jobs/{job_id}", response_model=JobOut)
def patch_job(job_id: str, body: DetailsIn, session: SessionDep, owner: OwnerDep) -> JobOut:
    """Change the title or whether others may see the original photo (owner only)."""
    job = own_job(session, job_id, owner)
    update_details(session, job, **changed_details(body))
    return job_out(session, job, owner)


# ----------------------------------------------------------------------------- forms
@router.post("/jobs/{job_id}/retry", include_in_schema=False)
def retry_from_form(job_id: str, request: Request, session: SessionDep,
                    settings: SettingsDep, store: StoreDep, weights: WeightsDep,
                    owner: OwnerDep) -> Response:
    check_rate(request)
    job = retry_job(session, store, settings, weights, own_job(session, job_id, owner))
    request.app.state.wake_workers()
    return RedirectResponse(f"/jobs/{job.public_id}", status_code=303)


@router.post("/jobs/{job_id}/restore", include_in_schema=False)
def restore_from_form(job_id: str, session: SessionDep, owner: OwnerDep) -> Response:
    job = own_deleted_job(session, job_id, owner)
    restore_or_refuse(session, job)
    return RedirectResponse(f"/me?restored={job.public_id}", status_code=303)


@router.post("/jobs/{job_id}/details", include_in_schema=False)
def details_from_form(job_id: str, session: SessionDep, owner: OwnerDep,
                      title: Annotated[str, Form(max_length=1000)] = "",
                      show_original: Annotated[bool, Form()] = False) -> Response:
    job = own_job(session, job_id, owner)
    details = DetailsIn(title=title, show_original=show_original)
    update_details(session, job, **changed_details(details))
    return RedirectResponse(f"/jobs/{job.public_id}?notice=saved", status_code=303)
