"""The JSON API under ``/api/`` (documented at ``/docs``)."""

from __future__ import annotations

import time
from typing import Annotated, AsyncIterator

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.db.models import FINISHED_STATES, Job, JobState
from app.engine.registry import BY_NAME
from app.jobs.queue import delete_job, request_cancel
from app.people.feeds import Tab
from app.web.access import own_job, viewer_is_admin, visible_job
from app.web.create.details import upload_details
from app.web.create.form import FormDep
from app.web.create.submit import create_job
from app.web.deps import OwnerDep, SessionDep, SettingsDep, StoreDep, WeightsDep
from app.web.gallery_feed import gallery_out
from app.web.limits import StreamSlotDep, check_rate
from app.web.middleware.owner import keep_private, private_response, vary_by_cookie
from app.web.schemas import (
    ERRORS,
    MAX_PAGE,
    EngineOut,
    ErrorOut,
    GalleryOut,
    JobOut,
    job_out,
)
from app.web.services.progress_feed import ProgressFeed
from app.web.signed_in import current_account
from app.web.visibility import REMOVED

router = APIRouter(prefix="/api", tags=["api"], responses=ERRORS)
KEEPALIVE_S = 15.0
STREAM_LIMIT_S = 1800.0   # the browser's EventSource reconnects after this



@router.post("/jobs", status_code=201, response_model=JobOut,
             dependencies=[Depends(private_response)])
async def post_job(request: Request, session: SessionDep, settings: SettingsDep,
                   store: StoreDep, weights: WeightsDep, owner: OwnerDep,
                   form: FormDep) -> JobOut:
    """Queue a job (multipart: ``content`` plus one or more ``style``)."""
    check_rate(request)
    columns = await run_in_threadpool(upload_details, session, form)
    job = await create_job(session, store, settings, weights, owner, form, columns,
                           checks=request.app.state.upload_checks)
    request.app.state.wake_workers()
    return await run_in_threadpool(job_out, session, job, owner)


def viewer_job_out(session: Session, job: Job, owner: str, request: Request,
                   response: Response) -> JobOut:
    """``job`` for this visitor; its owner's view (the original, the file's name) is kept
    out of every cache, and every view varies by the owner cookie."""
    if job.owner_id == owner:
        keep_private(response)
    else:
        vary_by_cookie(response)
    return job_out(session, job, owner, viewer_is_admin(request))


@router.get("/jobs/{job_id}", response_model=JobOut)
def read_job(job_id: str, request: Request, response: Response, session: SessionDep,
             owner: OwnerDep) -> JobOut:
    """A job's state, progress, queue position and links."""
    job = visible_job(session, job_id, owner, request)
    return viewer_job_out(session, job, owner, request, response)


@router.get("/jobs/{job_id}/events", response_class=EventSourceResponse,
            responses={429: {"model": ErrorOut, "description": "Too many live streams from "
                                                               "this address."}})
async def job_events(job_id: str, request: Request, owner: OwnerDep,
                     _slot: StreamSlotDep) -> AsyncIterator[ServerSentEvent]:
    """Server-sent events: ``progress`` whenever the job changes, then one ``done``; ``gone``
    when it is deleted or hidden from this visitor; a keep-alive comment when quiet. Read by
    one poller per process (:mod:`app.web.services.progress_feed`); at most
    ``max_event_streams_per_client`` streams per client address (429 beyond)."""
    feed: ProgressFeed = request.app.state.progress_feed
    is_admin = viewer_is_admin(request)
    last, quiet_since = None, time.monotonic()
    deadline = quiet_since + STREAM_LIMIT_S
    async with feed.watching(job_id, owner):
        while time.monotonic() < deadline:
            views = await feed.next_views(job_id, owner)
            view = None if views is None else views.view_for(owner)
            if view is None or removed_for_viewer(view, is_admin):
                detail = "no such job" if view is None else REMOVED
                yield ServerSentEvent(event="gone", data={"detail": detail})
                return
            coarse_wait = None if view.wait_s is None else round(view.wait_s / 5)  # news only
            key = (view.state, view.progress, view.message, view.queue_position,
                   view.links.preview, view.links.partial, coarse_wait)
            if key != last:
                last, quiet_since = key, time.monotonic()
                yield ServerSentEvent(event="progress", data=view.model_dump(mode="json"))
            elif time.monotonic() - quiet_since >= KEEPALIVE_S:
                quiet_since = time.monotonic()
                yield ServerSentEvent(comment="keep-alive")
            if view.state in FINISHED_STATES:
                yield ServerSentEvent(event="done", data=view.model_dump(mode="json"))
                return


def removed_for_viewer(view: JobOut, is_admin: bool) -> bool:
    """Whether the admin hid this job from the visitor ``view`` was made for."""
    return view.hidden and not view.is_owner and not is_admin


@router.post("/jobs/{job_id}/cancel", response_model=JobOut,
             dependencies=[Depends(private_response)])
def cancel_job(job_id: str, session: SessionDep, owner: OwnerDep) -> JobOut:
    """Cancel a queued job now, or ask its worker to stop a running one (owner only)."""
    job = own_job(session, job_id, owner)
    if not request_cancel(session, job):
        raise HTTPException(409, f"the job has already {job.state}")
    return job_out(session, job, owner)


@router.delete("/jobs/{job_id}", status_code=204,
               responses={202: {"description": "The job was running: it is being cancelled "
                                               "and can be deleted once it has stopped."}})
def remove_job(job_id: str, session: SessionDep, store: StoreDep, owner: OwnerDep) -> Response:
    """Delete a job and its files (owner only). A running job is cancelled instead (202)."""
    job = own_job(session, job_id, owner)
    was_running = job.state == JobState.RUNNING
    store.remove(delete_job(session, job))
    return Response(status_code=202 if was_running else 204)


@router.get("/gallery", response_model=GalleryOut)
def gallery(request: Request, response: Response, session: SessionDep,
            page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
            tab: Annotated[Tab, Query(description="newest, trending (likes with a time "
                                      "decay) or following (signed in)")] = "newest",
            as_of: Annotated[int | None, Query(ge=0, le=10**15, description="the first page's as_of: "
                                               "the order stays put under new posts")] = None
            ) -> GalleryOut:
    """Finished public results as everyone sees them (one's own too): the newest first,
    the trending ones, or those of the people you follow."""
    if tab == "following":
        vary_by_cookie(response)
    return gallery_out(session, tab, page, as_of, current_account(request))


@router.get("/engines", response_model=list[EngineOut])
def engines(weights: WeightsDep) -> list[EngineOut]:
    """Each engine, what it does, and whether it is installed on this server."""
    out = []
    for status in weights.statuses():
        spec = BY_NAME[status.name]
        out.append(EngineOut(name=spec.name, label=spec.label, technical=spec.technical,
                             summary=spec.summary, mode=spec.mode, video=spec.takes_video,
                             iterative=spec.iterative, needs_style=spec.needs_style,
                             ready=status.ready))
    return out
