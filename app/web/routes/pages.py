"""The HTML pages: create, job (progress then result), gallery, share card."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app.db.models import Job, JobState
from app.engine.errors import StyleTransferError
from app.engine.methods.deepdream.networks import (
    DEPTHS,
    PRUNED_VGG19,
    DreamNet,
    network_here,
)
from app.engine.methods.trained.train_options import TrainOptions
from app.engine.options import MAX_STYLES
from app.engine.registry import BY_NAME
from app.engine.weights.store import WeightStore
from app.jobs.queue import get_job_by_share_token, request_cancel
from app.people.allowances import allowance_of
from app.people.trash import trash_job
from app.settings import Settings
from app.web.access import find_job, own_job, viewer_is_admin
from app.web.community_view import result_community
from app.web.create.details import upload_details
from app.web.create.fast_model import model_pick, models_picker
from app.web.create.form import FormDep
from app.web.create.speed import engine_speeds, preset_speeds
from app.web.create.submit import create_job
from app.web.deps import OwnerDep, SessionDep, SettingsDep, StoreDep, WeightsDep
from app.web.errors import status_for
from app.web.family_view import family_context
from app.web.gallery_feed import chosen_tab, gallery_out
from app.web.limits import check_rate
from app.web.middleware.owner import home_owner, keep_private, vary_by_cookie
from app.web.rendering import base_url, only_this_computer, render
from app.web.schemas import MAX_PAGE, job_out, trained_model_page
from app.web.signed_in import current_account
from app.web.visibility import REMOVED, removed_for

router = APIRouter(include_in_schema=False)


def installed_engines(weights: WeightStore) -> list[Any]:
    """The registry's specs of the engines this server can run (what the page offers)."""
    return [BY_NAME[s.name] for s in weights.statuses() if s.ready]


def create_context(session: SessionDep, settings: Settings, weights: WeightStore, owner: str,
                   style_from: str | None = None, from_job: str | None = None,
                   style_ids: list[str] | None = None,
                   submitted: dict[str, Any] | None = None,
                   model: str | None = None, model_style: str | None = None) -> dict[str, Any]:
    """The create page's context: engines, quality choices with their measured times
    (:mod:`app.web.create.speed`), library picker and what the form starts with
    (:mod:`app.web.create.prefill`)."""
    from app.engine.presets import PRESETS
    from app.web.create.prefill import build_prefill, from_submitted, library_picker

    ids = [int(s) for s in style_ids or [] if s.isdigit() and len(s) < 10]
    prefill = build_prefill(session, weights, owner, from_job=from_job,
                            style_from=style_from, style_ids=ids)
    if submitted:
        from_submitted(prefill, submitted)
    engines = installed_engines(weights)
    ready = {spec.name for spec in engines}
    submitted = submitted or {}
    return {"engines": engines, "prefill": prefill, "presets": PRESETS,
            "allowance": allowance_of(session, owner),
            "library": library_picker(session), "max_styles": MAX_STYLES,
            "models": models_picker(session, owner),
            "model_pick": model_pick(session, owner, model or submitted.get("model_id"),
                                     model_style or submitted.get("model_style")),
            "train_defaults": TrainOptions(), "max_train_steps": settings.max_train_steps,
            "dream_net": auto_dream_network(weights), "depths": DEPTHS, "settings": settings,
            "speeds": preset_speeds(session, ready.__contains__, settings.max_output_side),
            "engine_speeds": engine_speeds(session, sorted(ready))}


def auto_dream_network(weights: WeightStore) -> DreamNet:
    """The network a dream on this server uses (its depths are described by it)."""
    try:
        return network_here("auto", weights)
    except StyleTransferError:          # Deep Dream is not installed: its words still hold
        return PRUNED_VGG19


@router.get("/", response_class=HTMLResponse)
def create_page(request: Request, session: SessionDep, settings: SettingsDep,
                weights: WeightsDep, owner: OwnerDep, style_from: str | None = None,
                from_job: Annotated[str | None, Query(alias="from")] = None,
                style_id: Annotated[list[str] | None, Query()] = None,
                model: Annotated[str | None, Query(max_length=32)] = None,
                model_style: Annotated[str | None, Query(max_length=4)] = None) -> Response:
    """Create; ``?from=<job>`` (its owner) starts from that job's files and settings,
    ``?style_id=N`` (repeatable) with library styles, ``?style_from=<job>`` with a
    result's styles, ``?model=<id>&model_style=N`` with a fast model's style."""
    response = render(request, "create.html",
                      opened_with_key=home_owner(request) is not None,
                      **create_context(session, settings, weights, owner, style_from,
                                       from_job, style_id, model=model,
                                       model_style=model_style))
    # "edit and retry" shows the owner's own photo and file names
    return keep_private(response) if from_job else response


@router.post("/create")
async def create_from_form(request: Request, session: SessionDep, settings: SettingsDep,
                           store: StoreDep, weights: WeightsDep, owner: OwnerDep,
                           form: FormDep) -> Response:
    """The no-JavaScript path: a plain multipart POST, then a redirect to the job page."""
    try:
        check_rate(request)
        columns = await run_in_threadpool(upload_details, session, form)
        job = await create_job(session, store, settings, weights, owner, form, columns,
                           checks=request.app.state.upload_checks)
    except StyleTransferError as exc:
        context = await run_in_threadpool(create_context, session, settings, weights, owner,
                                          form.style_from, form.content_from, form.style_ids,
                                          form.values())
        response = render(request, "create.html", status_code=status_for(exc),
                          error=str(exc),
                          opened_with_key=home_owner(request) is not None, **context)
        response.headers.update(getattr(exc, "headers", None) or {})
        return response
    request.app.state.wake_workers()
    return RedirectResponse(f"/jobs/{job.public_id}", status_code=303)


def removed_page(request: Request) -> Response:
    """What anyone but its owner and the admin sees of a result the admin hid."""
    return render(request, "error.html", status_code=410, title="Removed",
                  message=REMOVED)


def viewer_page(request: Request, template: str, subject: Job, owner: str,
                status_code: int = 200, **context: Any) -> Response:
    """A page about the job ``subject``: its owner's view holds what is theirs (the
    original, the file's name), so no cache keeps it, and it varies by the owner cookie."""
    response = render(request, template, status_code=status_code, **context)
    return keep_private(response) if subject.owner_id == owner else vary_by_cookie(response)


def result_response(request: Request, session: SessionDep, job: Job, owner: str,
                    settings: SettingsDep) -> Response:
    """The result page of a succeeded ``job`` for this visitor."""
    is_admin = viewer_is_admin(request)
    if removed_for(job, owner, is_admin):
        return removed_page(request)
    base = base_url(request, settings.public_url)
    return viewer_page(request, "result.html", job, owner,
                       job=job_out(session, job, owner, is_admin), is_admin=is_admin,
                       base=base, local_only=only_this_computer(base),
                       notice=request.query_params.get("notice"),
                       community=result_community(request, session, job, owner, is_admin),
                       **family_context(session, job, owner, is_admin, settings))


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(job_id: str, request: Request, session: SessionDep, owner: OwnerDep,
             settings: SettingsDep) -> Response:
    job = find_job(session, job_id)
    model = trained_model_page(session, job) if job.kind == "train" else None
    if model is not None and job.state == JobState.SUCCEEDED:     # a training: its model
        return RedirectResponse(model, status_code=303)
    if job.state == JobState.SUCCEEDED and job.kind != "train":
        return result_response(request, session, job, owner, settings)
    is_admin = viewer_is_admin(request)
    if removed_for(job, owner, is_admin):
        return removed_page(request)
    return viewer_page(request, "job.html", job, owner,
                       job=job_out(session, job, owner, is_admin))


@router.get("/r/{job_id}", response_class=HTMLResponse)
def result_page(job_id: str, request: Request, session: SessionDep, owner: OwnerDep,
                settings: SettingsDep) -> Response:
    job = find_job(session, job_id)
    if job.state != JobState.SUCCEEDED or job.kind == "train":
        return RedirectResponse(f"/jobs/{job.public_id}", status_code=303)
    return result_response(request, session, job, owner, settings)


@router.post("/jobs/{job_id}/cancel")
def cancel_from_form(job_id: str, session: SessionDep, owner: OwnerDep) -> Response:
    request_cancel(session, own_job(session, job_id, owner))
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@router.post("/jobs/{job_id}/delete")
def delete_from_form(job_id: str, session: SessionDep, owner: OwnerDep) -> Response:
    """Delete with an undo: hidden at once, gone for good after the undo window; then
    My results, which says so and offers "Undo"."""
    trash_job(session, own_job(session, job_id, owner))
    return RedirectResponse(f"/me?deleted={job_id}", status_code=303)


@router.get("/gallery", response_class=HTMLResponse)
def gallery_page(request: Request, session: SessionDep, page: int = 1, tab: str = "newest",
                 as_of: Annotated[int | None, Query(ge=0, le=10**15)] = None) -> Response:
    """The gallery's tabs: Newest, Trending, Following (:mod:`app.people.feeds`)."""
    page = min(max(1, page), MAX_PAGE)
    who = current_account(request)
    shown = gallery_out(session, chosen_tab(tab), page, as_of, who)
    # as everyone sees it, one's own results included (their public titles)
    return vary_by_cookie(render(request, "gallery.html", gallery=shown, jobs=shown.jobs,
                                 page=page, pages=shown.pages, total=shown.total,
                                 signed_in=who))


@router.get("/s/{token}", response_class=HTMLResponse)
def share_page(token: str, request: Request, session: SessionDep, owner: OwnerDep,
               settings: SettingsDep) -> Response:
    job = get_job_by_share_token(session, token)
    if job is None:
        raise HTTPException(404, "this share link does not exist (or its result was deleted)")
    is_admin = viewer_is_admin(request)
    removed = job.hidden and not is_admin      # its owner, too, sees what others see
    base = base_url(request, settings.public_url)
    return viewer_page(request, "share.html", job, owner,
                       job=job_out(session, job, owner, is_admin), removed=removed,
                       status_code=410 if removed else 200, base=base,
                       local_only=only_this_computer(base))
