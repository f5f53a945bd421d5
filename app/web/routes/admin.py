"""The admin page (``/admin``): each engine's weights, downloads of what is missing with live
progress, imports from a folder on the server, and the workers sharing the database with
their heartbeats. Who may use it: :mod:`app.web.admin_access`.

The page works without JavaScript (plain form posts); ``static/admin.js`` turns the download
buttons into background requests and polls ``GET /api/admin/weights`` to move the progress
bars. The JSON endpoints are left out of the public OpenAPI document (``/docs`` is the
visitors' API); their response models are in :mod:`app.web.admin_schemas`. Engines become
ready as soon as their files are in the cache: the store checks files on every request.
"""

from __future__ import annotations

import hmac
import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.engine.errors import StyleTransferError
from app.engine.registry import get_engine
from app.engine.weights.downloads import (
    WeightsDownloadError,
    import_weights,
    refuse_if_offline,
)
from app.engine.weights.store import WeightFile, WeightStore
from app.jobs.leases import list_workers
from app.refusals import Refused
from app.web.access import AdminDep, AdminState, admin_state, require_admin
from app.web.admin_access import (
    ADMIN_COOKIE,
    NEEDS_SIGN_IN,
    SESSION_S,
    TOKEN_UNREADABLE,
    WRONG_TOKEN,
    admin_refusal,
    readable_token,
    served_over_https,
    session_cookie,
)
from app.web.admin_schemas import (
    AdminOverview,
    DownloadRequest,
    DownloadStarted,
    ImportOut,
    ImportRequest,
    WorkersOverview,
    import_out,
    overview,
    workers_out,
)
from app.web.community_admin_view import community_admin_context
from app.web.deps import WeightsDep
from app.web.queue_view import PersonOut, queue_overview
from app.web.rendering import render
from app.web.services.admin_downloads import start_downloads

log = logging.getLogger("dreamgen.web")
router = APIRouter(include_in_schema=False)
SIGN_INS_PER_MINUTE = 10


class AdminRequestRefused(Refused):
    """An admin action that cannot be done, with the status that says why."""


# ----------------------------------------------------------------------------- actions
def missing_files(store: WeightStore, engine: str) -> list[WeightFile]:
    """The pinned files ``engine`` needs or can use that the store has no verified copy of
    (what `dreamgen weights download ENGINE` fetches)."""
    spec = get_engine(engine)
    names = dict.fromkeys((*spec.weights, *spec.optional_weights))
    files = [store.pinned(name) for name in names]
    return [f for f in files if store.locate(f).state != "verified"]


def begin_download(store: WeightStore, state: AdminState, engine: str) -> DownloadStarted:
    """Start downloading what ``engine`` is missing; refuse when there is nothing to do."""
    files = missing_files(store, engine)
    if not files:
        raise AdminRequestRefused(f"{engine} has all its files: nothing to download.", 409)
    try:
        refuse_if_offline(store, files)
    except WeightsDownloadError as exc:
        raise AdminRequestRefused(str(exc), 409) from None
    started = start_downloads(store, state.downloads, files)
    if not started:
        raise AdminRequestRefused(f"The files of {engine} are already being downloaded.", 409)
    return DownloadStarted(engine=engine, started=[f.name for f in started])


def run_import(store: WeightStore, folder_text: str) -> ImportOut:
    """Import the weight files found in ``folder_text`` (a full path on the server); what
    may be read is decided by :mod:`app.engine.weights.import_checks`, as for the command line."""
    text = folder_text.strip()
    try:
        folder = Path(text).expanduser()
    except RuntimeError:                 # "~someone" with no such user
        folder = Path(text)
    if not text or not folder.is_absolute():
        raise AdminRequestRefused("Give the full path of a folder on the server, like "
                                  "/media/usb/dreamgen-weights.")
    try:
        return import_out(folder, import_weights(store, [folder]))
    except OSError as exc:
        raise AdminRequestRefused(f"Importing from {folder} failed "
                                  f"({(exc.strerror or 'error').lower()}).") from None


def queue_lines(request: Request) -> list[PersonOut] | None:
    """Everyone's jobs in line, per person (None when the database cannot be read)."""
    db_engine = getattr(request.app.state, "db_engine", None)
    if db_engine is None:
        return None
    try:
        with Session(db_engine) as session:
            return queue_overview(session)
    except SQLAlchemyError:
        log.warning("the admin page could not read the queue", exc_info=True)
        return None


def workers_overview(request: Request) -> WorkersOverview | None:
    """Every worker row in the shared database, alive or stale; None when the database
    cannot be read (the weights part of the page works without it)."""
    lease = request.app.state.settings.lease_seconds
    db_engine = getattr(request.app.state, "db_engine", None)
    if db_engine is None:
        return None
    try:
        with Session(db_engine) as session:
            return workers_out(list_workers(session, lease), lease)
    except SQLAlchemyError:
        log.warning("the admin page could not list the workers", exc_info=True)
        return None


# ----------------------------------------------------------------------------- the page
def admin_page_response(request: Request, store: WeightStore, status_code: int = 200,
                        **context: Any) -> Response:
    """The page for an allowed visitor, with the store's state and the workers as they are
    now."""
    from app.web.routes.moderation import recent_public_results

    state = admin_state(request)
    return render(request, "admin.html", status_code=status_code,
                  overview=overview(store, state.downloads.snapshot()),
                  workers=workers_overview(request), queue=queue_lines(request),
                  public_results=recent_public_results(request),
                  notice=request.query_params.get("notice"),
                  lease_seconds=request.app.state.settings.lease_seconds,
                  signed_in=ADMIN_COOKIE in request.cookies,
                  **community_admin_context(request), **context)


def refused_page(request: Request, reason: str, status_code: int = 403) -> Response:
    """The refusal, with the sign-in form."""
    return render(request, "admin.html", status_code=status_code, refusal=reason,
                  prompt=reason == NEEDS_SIGN_IN)


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, store: WeightsDep) -> Response:
    reason = admin_refusal(request, admin_state(request).key)
    return refused_page(request, reason) if reason else admin_page_response(request, store)


@router.post("/admin/sign-in")
def sign_in(request: Request, token: Annotated[str, Form()] = "") -> Response:
    """Check the token and set the HttpOnly, SameSite=Strict session cookie."""
    state, expected = admin_state(request), readable_token(request)
    if expected is None:
        return refused_page(request, TOKEN_UNREADABLE, 503)
    if not hmac.compare_digest(token.encode(), expected.encode()):
        return wrong_guess(request, state)
    response = RedirectResponse("/admin", status_code=303)
    response.set_cookie(ADMIN_COOKIE, session_cookie(state.key, expected), max_age=SESSION_S,
                        path="/", httponly=True, samesite="strict",
                        secure=served_over_https(request))
    return response


def wrong_guess(request: Request, state: AdminState) -> Response:
    """403 for a wrong token; 429 past :data:`SIGN_INS_PER_MINUTE` wrong ones from an address.

    Only wrong tokens are counted, and the right one signs in even past the limit, so no one
    sharing the admin's address (a NAT, the reverse proxy in front of the studio) can lock
    the admin out by guessing. That is safe because the limit is not what keeps the token
    out of reach (a guess past it is still tested, and the Bearer header of the JSON
    endpoints was never limited): its size is, 256 random bits when the studio makes it and
    at least 16 characters when it is set by hand (:mod:`app.admin_token`), more than any
    rate of guessing over the network gets through. The 429 tells a script to stop.
    """
    try:
        state.sign_ins.check(request.client.host if request.client else "unknown")
    except Refused as exc:
        wait = (exc.headers or {}).get("Retry-After", "60")
        return refused_page(request, f"Too many wrong tokens; try again in {wait} s.", 429)
    return refused_page(request, WRONG_TOKEN)


@router.post("/admin/sign-out")
def sign_out() -> Response:
    response = RedirectResponse("/admin", status_code=303)
    response.delete_cookie(ADMIN_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.post("/admin/download")
def download_from_form(request: Request, store: WeightsDep,
                       engine: Annotated[str, Form()] = "") -> Response:
    """The no-JavaScript path: start the download, then back to the page."""
    reason = admin_refusal(request, admin_state(request).key)
    if reason:
        return refused_page(request, reason)
    try:
        begin_download(store, admin_state(request), engine)
    except StyleTransferError as exc:
        return admin_page_response(request, store, getattr(exc, "status_code", 422),
                                   error=str(exc))
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/import", response_class=HTMLResponse)
def import_from_form(request: Request, store: WeightsDep,
                     folder: Annotated[str, Form()] = "") -> Response:
    """Import from a server folder and show what was imported and skipped."""
    reason = admin_refusal(request, admin_state(request).key)
    if reason:
        return refused_page(request, reason)
    try:
        report = run_import(store, folder)
    except StyleTransferError as exc:
        return admin_page_response(request, store, getattr(exc, "status_code", 422),
                                   error=str(exc), folder=folder)
    return admin_page_response(request, store, imported=report, folder=folder)


# ----------------------------------------------------------------------------- JSON
@router.get("/api/admin/weights", response_model=AdminOverview)
def weights_overview(store: WeightsDep, state: AdminDep) -> AdminOverview:
    """Every engine and weight file, with download progress (what the page polls)."""
    return overview(store, state.downloads.snapshot())


@router.post("/api/admin/downloads", status_code=202, response_model=DownloadStarted)
def post_download(body: DownloadRequest, store: WeightsDep, state: AdminDep) -> DownloadStarted:
    """Start downloading the files ``engine`` is missing (409: offline, ready, or already
    downloading)."""
    return begin_download(store, state, body.engine)


@router.post("/api/admin/import", response_model=ImportOut,
             dependencies=[Depends(require_admin)])
def post_import(body: ImportRequest, store: WeightsDep) -> ImportOut:
    """Import weight files, recognised by SHA-256, from a folder on the server."""
    return run_import(store, body.folder)


@router.get("/api/admin/workers", response_model=WorkersOverview,
            dependencies=[Depends(require_admin)])
def get_workers(request: Request) -> WorkersOverview:
    """Every worker sharing the database: host, pid, device, job, heartbeat age, alive
    (503 when the database cannot be read)."""
    workers = workers_overview(request)
    if workers is None:
        raise HTTPException(503, "The database does not answer; the workers cannot be listed.")
    return workers
