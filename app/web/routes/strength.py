"""Instant strength preview: on a finished picture of an engine that offers one (the fast
feed-forward engines: their spec names its hooks) its
owner drags a slider and sees the picture at that strength in well under a second; "save
this version" makes it a result of its own (:mod:`app.people.strength_versions`).

Every render runs in a child process (:func:`app.isolation.run_isolated`), never here, at
most :data:`RENDER_SLOTS` at a time per process and one per person
(:class:`app.web.services.render_slots.FairRenderSlots`: a person's second request waits for their
first, so one person dragging never keeps the others out; a busy server answers 429 and the
page asks again with the latest value). A request holds a database session only while it
reads the job, not while the child renders.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Callable

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from app.db.models import JobState
from app.engine.errors import StyleTransferError
from app.engine.registry import BY_NAME
from app.isolation import ChildCrashed, ChildTimedOut, run_isolated
from app.jobs.strength_render import StrengthRender, full_version, quick_preview_jpeg
from app.people.strength_versions import save_version
from app.web.access import own_job
from app.web.deps import OwnerDep, StoreDep, WeightsDep
from app.web.limits import check_rate
from app.web.middleware.owner import private_response
from app.web.schemas import ERRORS, ErrorOut, JobOut, job_out
from app.web.services.render_slots import FairRenderSlots, RenderRefused
from app.web.visibility import refuse_hidden_reuse

log = logging.getLogger("dreamgen.web")
router = APIRouter(tags=["api"], responses={**ERRORS, 503: {"model": ErrorOut}})
RENDER_SLOTS = 2
RENDER_TIMEOUT_S = 60.0
SLOTS = FairRenderSlots(RENDER_SLOTS)
NO_PREVIEW = ("this result keeps no strength preview (only Fast and Classic pictures up to "
              "1024x1024 made since this feature exists do)")


class VersionIn(BaseModel):
    """``POST /api/jobs/{id}/versions``: the style strength of the new version."""

    alpha: float = Field(ge=0.0, le=1.0)


def _render_request(request: Request, job_id: str, owner: str, alpha: float,
                    weights: Any, store: Any, new_version: bool = False) -> StrengthRender:
    """What the child needs, read in a short session of its own (owner only; nothing of a
    result the admin hid, and no new version of one whose library style it hid)."""
    with request.app.state.session_factory() as session:
        job = own_job(session, job_id, owner)
        if job.hidden or new_version:
            refuse_hidden_reuse(session, job, owner)
        spec = BY_NAME.get(job.engine)
        if job.state != JobState.SUCCEEDED or not job.strength_path or \
                not store.exists(job.strength_path) or spec is None or \
                spec.strength_preview is None:
            raise HTTPException(404, NO_PREVIEW)
        paths = {name: str(path) for name, path in weights.engine_paths(spec).items()}
        return StrengthRender(str(store.path(job.strength_path)), job.engine,
                              round(alpha, 2), paths)


def _in_child(function: Callable[[StrengthRender], Any], render: StrengthRender,
              owner: str) -> Any:
    """``function(render)`` in a child process, in ``owner``'s turn (429 when none comes)."""
    try:
        with SLOTS.turn(owner):
            return _render(function, render)
    except RenderRefused as refused:
        raise HTTPException(429, "a newer preview was asked for" if refused.replaced else
                            "busy re-rendering; try again in a moment",
                            headers={"Retry-After": "1"}) from None


def _render(function: Callable[[StrengthRender], Any], render: StrengthRender) -> Any:
    try:
        return run_isolated(function, render, timeout_s=RENDER_TIMEOUT_S)
    except (ChildCrashed, ChildTimedOut) as exc:
        log.error("strength re-render of %s failed: %s", render.state_path, exc)
        raise HTTPException(503, f"the re-render failed ({exc}); try again") from None
    except (OSError, ValueError, RuntimeError, StyleTransferError) as exc:
        log.error("strength re-render of %s failed: %s", render.state_path, exc)
        raise HTTPException(409, "this result's strength preview cannot be read") from None


@router.get("/api/jobs/{job_id}/strength-preview", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}},
                             "description": "The picture at that strength (a preview)."}})
def strength_preview(job_id: str, request: Request, store: StoreDep, weights: WeightsDep,
                     owner: OwnerDep,
                     alpha: Annotated[float, Query(ge=0.0, le=1.0)] = 1.0) -> Response:
    """A quick JPEG of a finished Fast or Classic picture at style strength ``alpha``,
    re-rendered by the decoder alone (owner only)."""
    render = _render_request(request, job_id, owner, alpha, weights, store)
    jpeg = _in_child(quick_preview_jpeg, render, owner)
    return Response(jpeg, media_type="image/jpeg",
                    headers={"Cache-Control": "private, max-age=600", "Vary": "Cookie",
                             "X-Content-Type-Options": "nosniff"})


def _save(request: Request, job_id: str, owner: str, alpha: float, weights: Any,
          store: Any) -> JobOut:
    """Render at full size in a child, then store the new job (a short session again)."""
    check_rate(request)
    render = _render_request(request, job_id, owner, alpha, weights, store, new_version=True)
    rendered = _in_child(full_version, render, owner)
    with request.app.state.session_factory() as session:
        source = own_job(session, job_id, owner)
        refuse_hidden_reuse(session, source, owner)       # hidden while it rendered
        job = save_version(session, store, source, render.alpha, rendered)
        return job_out(session, job, owner)


@router.post("/api/jobs/{job_id}/versions", status_code=201, response_model=JobOut,
             dependencies=[Depends(private_response)])
def post_version(job_id: str, body: VersionIn, request: Request, store: StoreDep,
                 weights: WeightsDep, owner: OwnerDep) -> JobOut:
    """Save the picture at ``alpha`` as a new result (its own files, its own page)."""
    return _save(request, job_id, owner, body.alpha, weights, store)


@router.post("/jobs/{job_id}/versions", include_in_schema=False)
def version_from_form(job_id: str, request: Request, store: StoreDep, weights: WeightsDep,
                      owner: OwnerDep,
                      alpha: Annotated[float, Form(ge=0.0, le=1.0)] = 1.0) -> Response:
    version = _save(request, job_id, owner, alpha, weights, store)
    return RedirectResponse(f"/jobs/{version.id}?notice=version", status_code=303)
