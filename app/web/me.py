"""My results (``/me``): every job this browser made, in any state, newest first, with open,
retry, "edit and retry" and delete (with an undo); and a private key to carry them to
another browser.

The key never travels in a URL the server sees: the link is ``/me/key#<key>``, and a
fragment is neither sent to the server (so never in its logs or a proxy's) nor put in a
``Referer``. Opening the link shows a page that asks first; the browser takes on the owner
id only on that page's POST, which the cross-site check guards (:mod:`app.web.security`),
so another site can neither read a key nor make a visitor adopt one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.jobs.owner_keys import (adopt_owner, count_jobs, forget_owner_key, new_owner_key,
                                 owner_for_key, owner_key_made_at)
from app.jobs.queue import get_job, list_owner_jobs
from app.jobs.trash import undo_deadline
from app.web.api import MAX_PAGE
from app.web.deps import OwnerDep, SessionDep, SettingsDep
from app.web.naming import display_title
from app.web.owner import owner_cookie
from app.web.pages import base_url, only_this_computer, render
from app.web.schemas import ERRORS, GalleryOut, job_out

router = APIRouter()
PER_PAGE = 24
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def my_jobs(session: Session, owner: str, page: int) -> GalleryOut:
    """One page of ``owner``'s jobs as the API shows them."""
    jobs, total = list_owner_jobs(session, owner, page, PER_PAGE)
    return GalleryOut(page=page, per_page=PER_PAGE, total=total,
                      pages=max(1, -(-total // PER_PAGE)),
                      jobs=[job_out(session, j, owner) for j in jobs])


def deleted_notice(session: Session, owner: str, job_id: str | None) -> dict[str, Any] | None:
    """What the page says about a job just deleted: its title, and until when "Undo" works
    (None once it is too late)."""
    if not job_id:
        return None
    job = get_job(session, job_id)
    if job is None:
        return {"title": None, "undo_until": None}      # gone for good already
    if job.owner_id != owner:
        return None
    until = undo_deadline(job)
    return {"id": job.public_id, "title": display_title(job), "undo_until": until}


@router.get("/api/me/jobs", response_model=GalleryOut, tags=["api"], responses=ERRORS)
def api_my_jobs(session: SessionDep, owner: OwnerDep,
                page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1) -> GalleryOut:
    """Every job of this browser (its owner cookie) in any state, newest first."""
    return my_jobs(session, owner, page)


def my_results_page(request: Request, session: Session, owner: str, page: int = 1,
                    status_code: int = 200, **context: Any) -> Response:
    params = request.query_params
    return render(request, "me.html", status_code=status_code,
                  mine=my_jobs(session, owner, min(max(1, page), MAX_PAGE)),
                  deleted=deleted_notice(session, owner, params.get("deleted")),
                  restored=params.get("restored"), adopted=params.get("adopted"),
                  notice=params.get("notice"), key_made_at=owner_key_made_at(session, owner),
                  **context)


@router.get("/me", response_class=HTMLResponse, include_in_schema=False)
def me_page(request: Request, session: SessionDep, owner: OwnerDep, page: int = 1) -> Response:
    return my_results_page(request, session, owner, page)


@router.post("/me/key/new", response_class=HTMLResponse, include_in_schema=False)
def make_key(request: Request, session: SessionDep, owner: OwnerDep,
             settings: SettingsDep) -> Response:
    """A new key, shown once on this response (never in a URL), the old one retired."""
    key = new_owner_key(session, owner)
    base = base_url(request, settings.public_url)
    response = my_results_page(request, session, owner, key=key,
                               key_link=f"{base}/me/key#{key}", base=base,
                               local_only=only_this_computer(base))
    response.headers.update(PRIVATE)
    return response


@router.post("/me/key/forget", include_in_schema=False)
def forget_key(session: SessionDep, owner: OwnerDep) -> Response:
    forget_owner_key(session, owner)
    return RedirectResponse("/me?notice=key-forgotten", status_code=303)


@router.get("/me/key", response_class=HTMLResponse, include_in_schema=False)
def key_page(request: Request, session: SessionDep, owner: OwnerDep) -> Response:
    """Asks before anything changes; the key arrives in the URL's fragment (read by
    ``static/me.js``) or is pasted."""
    response = render(request, "me_key.html", here=count_jobs(session, owner))
    response.headers.update(PRIVATE)
    return response


def key_from(text: str) -> str:
    """The key in what was pasted: a bare key, or a whole ``…/me/key#<key>`` link."""
    return text.strip().rsplit("#", 1)[-1].rsplit("/", 1)[-1].strip()


@router.post("/me/key", include_in_schema=False)
def use_key(request: Request, session: SessionDep, owner: OwnerDep,
            key: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Take on the key's owner id (this browser's own jobs move along with it)."""
    target = owner_for_key(session, key_from(key))
    if target is None:
        response = render(request, "me_key.html", status_code=404,
                          here=count_jobs(session, owner),
                          error="That key does not work: it was mistyped, or a newer key "
                                "replaced it. Make a new one on My results in the other "
                                "browser.")
        response.headers.update(PRIVATE)
        return response
    moved = adopt_owner(session, owner, target)
    response = RedirectResponse(f"/me?adopted={moved}", status_code=303)
    response.headers.append("set-cookie", owner_cookie(target, request.scope))
    response.headers.update(PRIVATE)
    return response
