"""My results (``/me``): every job of this browser, in any state, newest first, with open,
retry, "edit and retry" and delete (with an undo); and a private key to carry them to
another browser.

The key never travels in a URL the server sees: the link is ``/me/key#<key>``, and a
fragment is neither sent to the server (so never in its logs or a proxy's) nor put in a
``Referer``. Opening the link shows a page that asks first; the browser takes on the owner
id only on that page's POST, which the cross-site check guards (:mod:`app.web.middleware.security`),
so another site can neither read a key nor make a visitor adopt one.

A key link is safe to open by default: "open those results here" switches this browser to
the key's results and keeps its own id (``HOME_COOKIE``), so "switch back" returns to them;
only "move my results there too", a separate choice with its own warning, hands this
browser's jobs to whoever made the key. Making a key is a POST that redirects; the key is
shown from a short-lived cookie (never a URL), so reloading the page shows the same key
instead of making (and retiring) another.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.jobs.queue import get_job, list_owner_jobs
from app.people.fast_models import owner_models
from app.people.owner_keys import (
    count_jobs,
    forget_owner_key,
    move_jobs,
    new_owner_key,
    owner_for_key,
    owner_key_made_at,
)
from app.people.titles import display_title
from app.people.trash import undo_deadline
from app.refusals import Refused
from app.web.deps import OwnerDep, SessionDep, SettingsDep
from app.web.middleware.owner import (
    HOME_COOKIE,
    ONE_YEAR_S,
    cookie_header,
    home_owner,
    keep_private,
    owner_cookie,
)
from app.web.model_schemas import model_out
from app.web.rendering import base_url, only_this_computer, render
from app.web.schemas import ERRORS, MAX_PAGE, GalleryOut, job_out

router = APIRouter()
PER_PAGE = 24
NO_REFERRER = {"Referrer-Policy": "no-referrer"}
NEW_KEY_COOKIE = "dreamgen_new_key"
NEW_KEY_SHOWN_S = 600          # a reload within this shows the same key again
SIGNED_IN = ("you are signed in: your results are your account's, and reach any browser "
             "you sign in on; sign out to use key links")
BAD_KEY = ("That key does not work: it was mistyped, or a newer key replaced it. Make a new "
           "one on My results in the other browser.")


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
    return {"id": job.public_id, "title": display_title(job, owner), "undo_until": until}


@router.get("/api/me/jobs", response_model=GalleryOut, tags=["api"], responses=ERRORS)
def api_my_jobs(response: Response, session: SessionDep, owner: OwnerDep,
                page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1) -> GalleryOut:
    """Every job of this browser (its owner cookie) in any state, newest first."""
    keep_private(response)
    return my_jobs(session, owner, page)


def shown_key(request: Request, session: Session, owner: str) -> str | None:
    """The key this browser just made (``/me?key=new`` after ``POST /me/key/new``), while
    its short-lived cookie lasts and it is still this owner's current key."""
    if request.query_params.get("key") != "new":
        return None
    key = request.cookies.get(NEW_KEY_COOKIE) or ""
    return key if owner_for_key(session, key) == owner else None


def private_page(request: Request, template: str, status_code: int = 200,
                 **context: Any) -> Response:
    """A page of this browser's own (never cached, never in a ``Referer``)."""
    response = render(request, template, status_code=status_code, **context)
    response.headers.update(NO_REFERRER)
    return keep_private(response)


def my_results_page(request: Request, session: Session, owner: str, public_url: str,
                    page: int = 1) -> Response:
    params = request.query_params
    key = shown_key(request, session, owner)
    home = home_owner(request)
    base = base_url(request, public_url)
    return private_page(
        request, "me.html", mine=my_jobs(session, owner, min(max(1, page), MAX_PAGE)),
        deleted=deleted_notice(session, owner, params.get("deleted")),
        restored=params.get("restored"), opened=params.get("opened"),
        moved=params.get("moved"), notice=params.get("notice"),
        key_made_at=owner_key_made_at(session, owner), key=key,
        key_link=f"{base}/me/key#{key}" if key else None, base=base,
        local_only=only_this_computer(base),
        home_jobs=count_jobs(session, home) if home else None,
        models=[model_out(session, m, owner) for m in owner_models(session, owner)])


@router.get("/me", response_class=HTMLResponse, include_in_schema=False)
def me_page(request: Request, session: SessionDep, owner: OwnerDep, settings: SettingsDep,
            page: int = 1) -> Response:
    return my_results_page(request, session, owner, settings.public_url, page)


def refuse_signed_in(request: Request) -> None:
    """Key links are for browsers without an account: a signed-in browser's results are
    its account's, which it reaches by signing in elsewhere (409)."""
    if getattr(request.state, "account", None) is not None:
        raise Refused(SIGNED_IN, 409)


@router.post("/me/key/new", include_in_schema=False)
def make_key(request: Request, session: SessionDep, owner: OwnerDep) -> Response:
    """A new key (the old one retired), then the page that shows it: a reload of that page
    shows the same key again instead of making another."""
    refuse_signed_in(request)
    key = new_owner_key(session, owner)
    response = RedirectResponse("/me?key=new#key-panel", status_code=303)
    response.headers.append("set-cookie", cookie_header(
        NEW_KEY_COOKIE, key, request.scope, max_age=NEW_KEY_SHOWN_S, path="/me",
        same_site="Strict"))
    return keep_private(response)


@router.post("/me/key/forget", include_in_schema=False)
def forget_key(request: Request, session: SessionDep, owner: OwnerDep) -> Response:
    refuse_signed_in(request)
    forget_owner_key(session, owner)
    response = RedirectResponse("/me?notice=key-forgotten", status_code=303)
    response.headers.append("set-cookie", cookie_header(NEW_KEY_COOKIE, "", request.scope,
                                                        max_age=0, path="/me"))
    return response


@router.get("/me/key", response_class=HTMLResponse, include_in_schema=False)
def key_page(request: Request, session: SessionDep, owner: OwnerDep) -> Response:
    """Asks before anything changes; the key arrives in the URL's fragment (read by
    ``static/me.js``) or is pasted."""
    return private_page(request, "me_key.html", here=count_jobs(session, owner))


def key_from(text: str) -> str:
    """The key in what was pasted: a bare key, or a whole ``…/me/key#<key>`` link."""
    return text.strip().rsplit("#", 1)[-1].rsplit("/", 1)[-1].strip()


def switch_to(request: Request, location: str, owner: str, home: str | None) -> Response:
    """A redirect that gives this browser the owner id ``owner`` and keeps ``home`` as its
    own one to switch back to (None: forget it)."""
    response = RedirectResponse(location, status_code=303)
    response.headers.append("set-cookie", owner_cookie(owner, request.scope))
    keep = home is not None and home != owner
    response.headers.append("set-cookie", cookie_header(
        HOME_COOKIE, home if keep else "", request.scope, max_age=ONE_YEAR_S if keep else 0))
    response.headers.update(NO_REFERRER)
    return keep_private(response)


@router.post("/me/key", include_in_schema=False)
def use_key(request: Request, session: SessionDep, owner: OwnerDep,
            key: Annotated[str, Form(max_length=2000)] = "",
            move: Annotated[bool, Form()] = False) -> Response:
    """Open the key's results here, keeping this browser's own to switch back to; with
    ``move``, hand this browser's jobs to the key's owner as well."""
    refuse_signed_in(request)
    target = owner_for_key(session, key_from(key))
    if target is None:
        return private_page(request, "me_key.html", status_code=404,
                            here=count_jobs(session, owner), error=BAD_KEY)
    home = home_owner(request)
    if move:
        moved = move_jobs(session, owner, target)
        return switch_to(request, f"/me?moved={moved}", target, home)
    return switch_to(request, "/me?opened=1", target, home or owner)


@router.post("/me/switch-back", include_in_schema=False)
def switch_back(request: Request) -> Response:
    """Back to this browser's own results after opening a key link."""
    home = home_owner(request)
    if home is None:
        return RedirectResponse("/me", status_code=303)
    return switch_to(request, "/me?notice=switched-back", home, None)
