"""The HTML pages: create, job (progress then result), gallery, share card."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app.engine.errors import StyleTransferError
from app.engine.registry import BY_NAME
from app.engine.weights import WeightStore
from app.jobs.queue import delete_job, get_job, get_job_by_share_token, list_gallery, request_cancel
from app.web.api import MAX_PAGE, PER_PAGE, find_job, own_job
from app.web.deps import OwnerDep, SessionDep, SettingsDep, StoreDep, WeightsDep
from app.web.errors import status_for
from app.web.limits import check_rate
from app.web.schemas import job_out
from app.web.submit import FormDep, create_job

router = APIRouter(include_in_schema=False)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    return request.app.state.templates.TemplateResponse(request, template, context,
                                                        status_code=status_code)


def base_url(request: Request, public_url: str) -> str:
    """Absolute origin for share cards: ``public_url`` when set, else the request's."""
    return (public_url or str(request.base_url)).rstrip("/")


def installed_engines(weights: WeightStore) -> list[Any]:
    """The registry's specs of the engines this server can run (what the page offers)."""
    return [BY_NAME[s.name] for s in weights.statuses() if s.ready]


def create_context(session: SessionDep, weights: WeightStore,
                   style_from: str | None) -> dict[str, Any]:
    reuse = get_job(session, style_from) if style_from else None
    if reuse is not None and reuse.state != "succeeded":
        reuse = None
    return {"engines": installed_engines(weights), "reuse": reuse}


@router.get("/", response_class=HTMLResponse)
def create_page(request: Request, session: SessionDep, settings: SettingsDep,
                weights: WeightsDep, style_from: str | None = None) -> Response:
    return render(request, "create.html", settings=settings,
                  **create_context(session, weights, style_from))


@router.post("/create")
async def create_from_form(request: Request, session: SessionDep, settings: SettingsDep,
                           store: StoreDep, weights: WeightsDep, owner: OwnerDep,
                           form: FormDep) -> Response:
    """The no-JavaScript path: a plain multipart POST, then a redirect to the job page."""
    try:
        check_rate(request)
        job = await create_job(session, store, settings, weights, owner, form)
    except StyleTransferError as exc:
        context = await run_in_threadpool(create_context, session, weights, form.style_from)
        response = render(request, "create.html", status_code=status_for(exc),
                          settings=settings, error=str(exc), **context)
        response.headers.update(getattr(exc, "headers", None) or {})
        return response
    request.app.state.wake_workers()
    return RedirectResponse(f"/jobs/{job.public_id}", status_code=303)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(job_id: str, request: Request, session: SessionDep, owner: OwnerDep,
             settings: SettingsDep) -> Response:
    job = find_job(session, job_id)
    view = job_out(session, job, owner)
    if job.state == "succeeded":
        return render(request, "result.html", job=view, base=base_url(request, settings.public_url))
    return render(request, "job.html", job=view)


@router.get("/r/{job_id}", response_class=HTMLResponse)
def result_page(job_id: str, request: Request, session: SessionDep, owner: OwnerDep,
                settings: SettingsDep) -> Response:
    job = find_job(session, job_id)
    if job.state != "succeeded":
        return RedirectResponse(f"/jobs/{job.public_id}", status_code=303)
    return render(request, "result.html", job=job_out(session, job, owner),
                  base=base_url(request, settings.public_url))


@router.post("/jobs/{job_id}/cancel")
def cancel_from_form(job_id: str, session: SessionDep, owner: OwnerDep) -> Response:
    request_cancel(session, own_job(session, job_id, owner))
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@router.post("/jobs/{job_id}/delete")
def delete_from_form(job_id: str, session: SessionDep, store: StoreDep,
                     owner: OwnerDep) -> Response:
    store.remove(delete_job(session, own_job(session, job_id, owner)))
    return RedirectResponse("/gallery", status_code=303)


@router.get("/gallery", response_class=HTMLResponse)
def gallery_page(request: Request, session: SessionDep, owner: OwnerDep,
                 page: int = 1) -> Response:
    page = min(max(1, page), MAX_PAGE)
    jobs, total = list_gallery(session, page, PER_PAGE)
    return render(request, "gallery.html", jobs=[job_out(session, j, owner) for j in jobs],
                  page=page, pages=max(1, -(-total // PER_PAGE)), total=total)


@router.get("/s/{token}", response_class=HTMLResponse)
def share_page(token: str, request: Request, session: SessionDep, owner: OwnerDep,
               settings: SettingsDep) -> Response:
    job = get_job_by_share_token(session, token)
    if job is None:
        raise HTTPException(404, "this share link does not exist (or its result was deleted)")
    return render(request, "share.html", job=job_out(session, job, owner),
                  base=base_url(request, settings.public_url))
