"""The style library: the ``/styles`` page and ``GET /api/styles`` (styles their owners
offered with public results, most used first, each once), and the admin's side of it —
adding curated styles and hiding any — on the same page for the admin
(:mod:`app.web.admin_access` decides who that is). The queries are in
:mod:`app.people.styles`."""

from __future__ import annotations

from typing import Annotated

from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    HTTPException,
    Query,
    Request,
    UploadFile,
)
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.engine.errors import StyleTransferError
from app.people.fast_models import shared_models
from app.people.library import add_curated_style
from app.people.styles import hidden_styles, listed_styles, set_hidden
from app.refusals import Refused
from app.settings import Settings
from app.storage import MediaStore
from app.web.access import require_admin, viewer_is_admin
from app.web.create.receive import save_raw
from app.web.deps import SessionDep, SettingsDep, StoreDep
from app.web.errors import status_for
from app.web.model_schemas import model_out
from app.web.rendering import render
from app.web.schemas import ERRORS, HiddenIn, media_url

router = APIRouter(tags=["api"], responses=ERRORS)
PER_PAGE = 48
MAX_PAGE = 100_000


class StyleOut(BaseModel):
    """A style in the library: pick it with ``style_id`` (or open ``use``)."""

    id: int
    title: str | None
    uses: int                 # finished public results that offered it to the library
    curated: bool             # added by the studio's admin
    image: str
    thumb: str
    use: str                  # the create page with this style chosen


class StylesOut(BaseModel):
    page: int
    per_page: int
    total: int
    pages: int
    styles: list[StyleOut]


def styles_page_data(session: Session, page: int) -> StylesOut:
    """One page of the library as the API and the page show it."""
    listed, total = listed_styles(session, page, PER_PAGE)
    styles = [StyleOut(id=item.style.id, title=item.style.title, uses=item.uses,
                       curated=item.style.curated, image=media_url(item.style.path) or "",
                       thumb=media_url(item.style.thumb_path or item.style.path) or "",
                       use=f"/?style_id={item.style.id}") for item in listed]
    return StylesOut(page=page, per_page=PER_PAGE, total=total,
                     pages=max(1, -(-total // PER_PAGE)), styles=styles)


@router.get("/api/styles", response_model=StylesOut)
def list_styles(session: SessionDep,
                page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1) -> StylesOut:
    """The style library: styles used in public results and the admin's picks, most used
    first, each image once (by content), with thumbnails."""
    return styles_page_data(session, page)


def styles_page_response(request: Request, session: Session, page: int = 1,
                         status_code: int = 200, **context: object) -> Response:
    """The library page; the admin also gets the upload form, the hide buttons and the
    hidden styles."""
    is_admin = viewer_is_admin(request)
    return render(request, "styles.html", status_code=status_code,
                  data=styles_page_data(session, page), is_admin=is_admin,
                  hidden=hidden_styles(session) if is_admin else [],
                  models=[model_out(session, m, "") for m in shared_models(session)]
                  if page == 1 else [], **context)


@router.get("/styles", response_class=HTMLResponse, include_in_schema=False)
def styles_page(request: Request, session: SessionDep, page: int = 1,
                added: int | None = None) -> Response:
    return styles_page_response(request, session, min(max(1, page), MAX_PAGE), added=added)


# ----------------------------------------------------------------------------- the admin's
async def _add_from_upload(request: Request, session: Session, store: MediaStore,
                           settings: Settings, style: UploadFile | str | None,
                           title: str) -> int:
    if style is None or isinstance(style, str) or not (style.filename or style.size):
        raise Refused("choose a style image to add")
    raw = store.temp_path_for(store.new_path("uploads", ".part"))
    try:
        await save_raw(style, raw, settings, "the style image")
        async with request.app.state.upload_checks.turn():     # checked in turn (503)
            return await run_in_threadpool(add_curated_style, session, store, settings, raw,
                                           title)
    finally:
        raw.unlink(missing_ok=True)


AdminOnly = [Depends(require_admin)]


@router.post("/admin/styles", include_in_schema=False, dependencies=AdminOnly)
async def add_style_from_form(request: Request, session: SessionDep, store: StoreDep,
                              settings: SettingsDep,
                              style: Annotated[UploadFile | str | None, File()] = None,
                              title: Annotated[str, Form(max_length=1000)] = "") -> Response:
    """The admin's upload (no JavaScript needed): back to the library, showing the result,
    or the library again with the refusal."""
    try:
        style_id = await _add_from_upload(request, session, store, settings, style, title)
    except StyleTransferError as exc:
        return await run_in_threadpool(styles_page_response, request, session, 1,
                                       status_for(exc), error=str(exc), title=title)
    return RedirectResponse(f"/styles?added={style_id}#style-{style_id}", status_code=303)


@router.post("/admin/styles/{style_id}/hide", include_in_schema=False,
             dependencies=AdminOnly)
def hide_from_form(style_id: int, session: SessionDep) -> Response:
    _set_hidden_or_404(session, style_id, True)
    return RedirectResponse("/styles#hidden-styles", status_code=303)


@router.post("/admin/styles/{style_id}/show", include_in_schema=False,
             dependencies=AdminOnly)
def show_from_form(style_id: int, session: SessionDep) -> Response:
    _set_hidden_or_404(session, style_id, False)
    return RedirectResponse(f"/styles#style-{style_id}", status_code=303)


def _set_hidden_or_404(session: Session, style_id: int, hidden: bool) -> None:
    if not 0 < style_id < 2**31 or set_hidden(session, style_id, hidden) is None:
        raise HTTPException(404, "there is no such style")


@router.post("/api/admin/styles", status_code=201, include_in_schema=False,
             dependencies=AdminOnly)
async def add_style(request: Request, session: SessionDep, store: StoreDep,
                    settings: SettingsDep, style: Annotated[UploadFile | str | None, File()] = None,
                    title: Annotated[str, Form(max_length=1000)] = "") -> dict[str, int]:
    """Add a curated style (multipart ``style``, optional ``title``); returns its ``id``."""
    return {"id": await _add_from_upload(request, session, store, settings, style, title)}


@router.patch("/api/admin/styles/{style_id}", include_in_schema=False,
              dependencies=AdminOnly)
def patch_style(style_id: int, body: HiddenIn, session: SessionDep) -> dict[str, object]:
    """Hide a style (never listed, ``style_id`` refused) or show it again."""
    _set_hidden_or_404(session, style_id, body.hidden)
    return {"id": style_id, "hidden": body.hidden}
