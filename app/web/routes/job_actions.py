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

from app.db.batches import Batch
from app.db.models import Job
from app.engine.weights.store import WeightStore
from app.jobs.batches import point_photo, retryable
from app.jobs.costs import check_room_in_line
from app.jobs.queue import enqueue_job, get_job, update_details
from app.people.allowances import check_allowance, earlier_cost, spending
from app.people.copies import copy_derived_inputs, copy_inputs, copy_media_file
from app.people.styles import job_style_ids, job_style_shares
from app.people.trash import restore_job, trash_job
from app.refusals import Refused
from app.settings import Settings
from app.storage import MediaStore
from app.uploads.storing import check_free_disk
from app.web.access import own_job
from app.web.batch_view import BatchOut, batch_out, own_batch, viewer_photos
from app.web.create.details import DetailsIn, changed_details
from app.web.create.submit import installed_engine
from app.web.deps import OwnerDep, SessionDep, SettingsDep, StoreDep, WeightsDep
from app.web.limits import check_rate
from app.web.middleware.owner import private_response
from app.web.schemas import ERRORS, JobOut, job_out
from app.web.visibility import refuse_hidden_reuse

# every answer is the owner's own job (JSON) or a redirect: never cached
router = APIRouter(tags=["api"], responses=ERRORS, dependencies=[Depends(private_response)])


class TrashOut(BaseModel):
    """A deleted job: restorable with ``POST /api/jobs/{id}/restore`` until ``undo_until``."""

    id: str
    undo_until: datetime


def retry_job(session: Session, store: MediaStore, settings: Settings, weights: WeightStore,
              source: Job) -> Job:
    """Queue a new job with copies of ``source``'s files and the same options and choices
    (refused for a result the admin hid, or one whose library style the admin hid)."""
    if not source.is_finished:
        raise HTTPException(409, f"this job is still {source.state}; wait for it or cancel it")
    refuse_hidden_reuse(session, source, source.owner_id)
    installed_engine(source.engine, weights)
    units = earlier_cost(session, source)
    check_allowance(session, source.owner_id, units)
    check_free_disk(store, settings)
    try:
        content, styles = copy_inputs(store, source)
        extras = copy_derived_inputs(store, source)     # its mask, an Enhance's start
        model = copy_media_file(store, source.model_path, "models") if source.model_path \
            else None       # a fast model's job (or a training that adds styles) keeps its own
    except OSError as exc:
        raise HTTPException(409, "the files of this job are gone, so it cannot run again") \
            from exc
    # the copies are the same pictures: link them to the source's library styles, so a
    # retry counts as a use and "Use this style again" on it still offers the library cards
    library_ids = job_style_ids(session, source.id)
    linked = [i for i in library_ids if i is not None]
    try:
        return enqueue_job(session, owner_id=source.owner_id, kind=source.kind,
                           engine=source.engine, options=dict(source.options),
                           content_path=content, style_paths=styles,
                           style_ids=linked if len(linked) == len(styles) else None,
                           style_shared=job_style_shares(session, source.id),
                           visibility=source.visibility, title=source.title,
                           content_name=source.content_name,
                           style_names=list(source.style_names or []),
                           show_original=source.show_original, model_path=model,
                           with_job=spending(source.owner_id, units), **extras)
    except BaseException:
        session.rollback()
        store.remove([content, *styles, *([model] if model else []),
                      *(p for p in (extras["mask_path"], extras["start_path"]) if p)])
        raise


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


# ----------------------------------------------------------------------------- a batch's
# failed photos, run again (the batch itself: app/web/routes/batches.py)
def retry_failed(session: Session, store: MediaStore, settings: Settings,
                 weights: WeightStore, batch: Batch, owner: str) -> int:
    """Retry every failed photo of ``batch`` that is ``owner``'s; stops at the first
    refusal (the allowance or the cap reached), which is raised when nothing could be
    retried. Returns the count."""
    failed = [p for p in viewer_photos(session, batch, owner) if retryable(p)]
    if not failed:
        raise HTTPException(409, "no photo of this batch failed, so there is nothing to retry")
    done = 0
    for photo in failed:
        source = photo.job
        assert source is not None
        try:
            check_room_in_line(session, source.owner_id, source.engine, source.options,
                               source.frames, settings.max_queued_minutes_per_person)
            job = retry_job(session, store, settings, weights, source)
        except (Refused, HTTPException):
            if not done:
                raise
            break
        point_photo(session, batch, photo.position, job)
        done += 1
    return done


@router.post("/api/batches/{batch_id}/retry", response_model=BatchOut, tags=["api"])
def retry_batch(batch_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                store: StoreDep, weights: WeightsDep, owner: OwnerDep) -> BatchOut:
    """Queue the failed and cancelled photos again with the same files and settings (409
    when there are none); the allowance and the per-person cap apply to each."""
    batch = own_batch(session, batch_id, owner)
    check_rate(request)
    retry_failed(session, store, settings, weights, batch, owner)
    request.app.state.wake_workers()
    return batch_out(session, batch, owner)


@router.post("/batches/{batch_id}/retry", include_in_schema=False)
def retry_batch_from_form(batch_id: str, request: Request, session: SessionDep,
                          settings: SettingsDep, store: StoreDep, weights: WeightsDep,
                          owner: OwnerDep) -> Response:
    batch = own_batch(session, batch_id, owner)
    check_rate(request)
    retry_failed(session, store, settings, weights, batch, owner)
    request.app.state.wake_workers()
    return RedirectResponse(f"/batches/{batch.public_id}", status_code=303)
