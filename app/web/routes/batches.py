"""Batches: many photos (or one ZIP of them) with the same styles and settings, one job per
photo. ``POST /api/batches`` makes one; its page (``/batches/{id}``) and
``GET /api/batches/{id}`` show the progress of each photo and of the whole (live through
``/api/batches/{id}/events``); ``/api/batches/{id}/download`` streams every finished result
in one ZIP. A batch is its owner's alone. Its "retry the failed ones" sits with the other
retries, in :mod:`app.web.routes.job_actions`."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, AsyncIterator

from fastapi import APIRouter, Depends, File, HTTPException, Request, UploadFile
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from app.web.batch_view import (
    BatchOut,
    batch_out,
    finished_results,
    own_batch,
    viewer_photos,
)
from app.web.batch_zip import stream_zip
from app.web.create.batch import create_batch
from app.web.create.form import CreateForm
from app.web.create.retry import retry_failed
from app.web.deps import OwnerDep, SessionDep, SettingsDep, StoreDep, WeightsDep
from app.web.limits import StreamSlotDep, check_rate
from app.web.middleware.owner import private_response
from app.web.rendering import render
from app.web.schemas import ERRORS

router = APIRouter(responses=ERRORS, dependencies=[Depends(private_response)])
POLL_S = 1.0
STREAM_LIMIT_S = 1800.0     # the browser's EventSource reconnects after this


class BatchForm(CreateForm):
    """The create form with many photos: ``content`` repeated, or one ``zip`` of them."""

    content: list[UploadFile | str] = Field(default_factory=list,  # type: ignore[assignment]
                                            description="a photo (repeat for each)")
    zip: UploadFile | str | None = Field(None, description="one ZIP of photos, instead of "
                                         "content files")


@router.post("/api/batches", status_code=201, response_model=BatchOut, tags=["api"])
async def post_batch(request: Request, session: SessionDep, settings: SettingsDep,
                     store: StoreDep, weights: WeightsDep, owner: OwnerDep,
                     form: Annotated[BatchForm, File()]) -> BatchOut:
    """Queue one job per photo (multipart: repeated ``content`` or one ``zip``, with the
    style fields of ``POST /api/jobs``). Photos refused on the way are listed in
    ``refused``; when none is left, 422 and nothing is kept."""
    check_rate(request)
    photos = [p for p in form.content if not isinstance(p, str)]
    archive = form.zip if not isinstance(form.zip, str) else None
    batch = await create_batch(session, store, settings, weights, owner, form, photos,
                               archive, checks=request.app.state.upload_checks,
                               on_queued=request.app.state.wake_workers)
    return await run_in_threadpool(batch_out, session, batch, owner)


@router.get("/api/batches/{batch_id}", response_model=BatchOut, tags=["api"])
def read_batch(batch_id: str, session: SessionDep, owner: OwnerDep) -> BatchOut:
    """The batch's jobs, the progress of each and of the whole, and its refused photos."""
    return batch_out(session, own_batch(session, batch_id, owner), owner)


@router.get("/api/batches/{batch_id}/events", response_class=EventSourceResponse,
            tags=["api"])
async def batch_events(batch_id: str, request: Request, owner: OwnerDep,
                       _slot: StreamSlotDep) -> AsyncIterator[ServerSentEvent]:
    """Server-sent events: ``progress`` (the batch as ``GET`` gives it) whenever it changes,
    then one ``done`` once every job has finished; ``gone`` when there is no such batch."""
    deadline, last = time.monotonic() + STREAM_LIMIT_S, None
    while time.monotonic() < deadline:
        view = await run_in_threadpool(_fresh_view, request, batch_id, owner)
        if view is None:
            yield ServerSentEvent(event="gone", data={"detail": "no such batch"})
            return
        if view.state == "finished":
            yield ServerSentEvent(event="done", data=view.model_dump(mode="json"))
            return
        key = [(j.state, j.progress, j.message) for j in view.jobs]
        if key != last:
            last = key
            yield ServerSentEvent(event="progress", data=view.model_dump(mode="json"))
        await asyncio.sleep(POLL_S)


def _fresh_view(request: Request, batch_id: str, owner: str) -> BatchOut | None:
    with request.app.state.session_factory() as session:
        try:
            return batch_out(session, own_batch(session, batch_id, owner), owner)
        except HTTPException:
            return None


@router.get("/api/batches/{batch_id}/download", tags=["api"],
            response_class=StreamingResponse,
            responses={200: {"content": {"application/zip": {}},
                             "description": "The finished results in one ZIP."}})
def download_batch(batch_id: str, session: SessionDep, store: StoreDep,
                   owner: OwnerDep) -> StreamingResponse:
    """Every finished result of the batch in one ZIP (streamed), named after the photos
    (numbered where two names are the same); 404 while none has finished."""
    batch = own_batch(session, batch_id, owner)
    files = finished_results(store, viewer_photos(session, batch, owner))
    if not files:
        raise HTTPException(404, "no result of this batch has finished yet")
    return StreamingResponse(stream_zip(files), media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="dreamgen-batch-{batch.public_id}.zip"',
        "X-Content-Type-Options": "nosniff"})


# ----------------------------------------------------------------------------- pages
@router.get("/batches/{batch_id}", include_in_schema=False)
def batch_page(batch_id: str, request: Request, session: SessionDep,
               owner: OwnerDep) -> Response:
    batch = own_batch(session, batch_id, owner)
    return render(request, "batch.html", batch=batch_out(session, batch, owner))


# ----------------------------------------------------------------------------- retry
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
