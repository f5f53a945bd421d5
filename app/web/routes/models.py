"""Fast models: "Train a fast model" (``POST /train``, ``POST /api/train``), a model's page
and its files (``/models/{id}``: its picture, its styles, the model file to export), its
owner's changes (rename, share to the style library, delete), imports (``POST
/models/import``, ``POST /api/models``: checked, never unpickled; a damaged, oversized or
pickle file gets a 4xx with the reason) and the admin's hide. The services are in
:mod:`app.people.fast_models` and :mod:`app.web.create.train`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.db.models import FastModel, Job
from app.engine.errors import StyleTransferError
from app.people.fast_models import (
    ModelUnavailable,
    delete_model,
    download_name,
    import_model,
    model_file,
    owner_models,
    update_model,
    visible_model,
)
from app.refusals import Refused
from app.settings import Settings
from app.storage import MediaStore
from app.web.access import require_admin, viewer_is_admin
from app.web.create.train import TrainFormDep, create_training
from app.web.deps import OwnerDep, SessionDep, SettingsDep, StoreDep
from app.web.errors import status_for
from app.web.limits import check_rate
from app.web.middleware.owner import keep_private, private_response
from app.web.model_schemas import ModelOut, model_out
from app.web.rendering import render
from app.web.schemas import ERRORS, HiddenIn, JobOut, job_out

router = APIRouter(tags=["api"], responses=ERRORS)
CHUNK = 1024 * 1024


class ModelIn(BaseModel):
    """``PATCH /api/models/{id}``: its owner's changes (fields left out stay as they are)."""

    title: str | None = Field(None, max_length=1000)
    shared: bool | None = None


def _model(session: Session, model_id: str, owner: str, request: Request) -> FastModel:
    try:
        return visible_model(session, model_id, owner, viewer_is_admin(request))
    except ModelUnavailable as exc:
        raise HTTPException(410 if "admin" in str(exc) else 404, str(exc)) from None


def _own_model(session: Session, model_id: str, owner: str, request: Request) -> FastModel:
    model = _model(session, model_id, owner, request)
    if model.owner_id != owner:
        raise HTTPException(403, "only the person who owns this fast model may change it")
    return model


# ----------------------------------------------------------------------------- training
@router.post("/api/train", status_code=201, response_model=JobOut,
             dependencies=[Depends(private_response)])
async def post_training(request: Request, session: SessionDep, settings: SettingsDep,
                        store: StoreDep, owner: OwnerDep, form: TrainFormDep) -> JobOut:
    """Queue a training job: one or more styles (``style``, ``style_id`` or ``style_from``),
    optional ``content`` (the photo the previews paint, or with ``photos=clip`` the clip to
    learn from), ``steps``, ``size``, ``width``; ``base_model`` adds the styles to one of
    your models. Its page shows the step, the losses and a preview; the finished model
    appears among your models (``GET /api/models``)."""
    check_rate(request)
    job = await create_training(session, store, settings, owner, form,
                                checks=request.app.state.upload_checks)
    request.app.state.wake_workers()
    return await run_in_threadpool(job_out, session, job, owner)


@router.post("/train", include_in_schema=False)
async def train_from_form(request: Request, session: SessionDep, settings: SettingsDep,
                          store: StoreDep, owner: OwnerDep, form: TrainFormDep) -> Response:
    """The no-JavaScript path (the create page, a result, the library, a model's page):
    the training's page, or the refusal on a page of its own."""
    try:
        check_rate(request)
        job = await create_training(session, store, settings, owner, form,
                                    checks=request.app.state.upload_checks)
    except StyleTransferError as exc:
        return render(request, "error.html", status_code=status_for(exc),
                      title="The training did not start", message=str(exc))
    request.app.state.wake_workers()
    return RedirectResponse(f"/jobs/{job.public_id}", status_code=303)


# ----------------------------------------------------------------------------- reading
@router.get("/api/models", response_model=list[ModelOut],
            dependencies=[Depends(private_response)])
def list_models(session: SessionDep, owner: OwnerDep) -> list[ModelOut]:
    """Your fast models, newest first."""
    return [model_out(session, m, owner) for m in owner_models(session, owner)]


@router.get("/api/models/{model_id}", response_model=ModelOut)
def get_model(model_id: str, request: Request, session: SessionDep,
              owner: OwnerDep) -> ModelOut:
    """One model: yours, or one shared in the style library."""
    return model_out(session, _model(session, model_id, owner, request), owner)


@router.get("/models/{model_id}", include_in_schema=False)
def model_page(model_id: str, request: Request, session: SessionDep, owner: OwnerDep,
               settings: SettingsDep, notice: str | None = None) -> Response:
    model = _model(session, model_id, owner, request)
    response = render(request, "model.html", model=model_out(session, model, owner),
                      training=_training_settings(session, model), notice=notice,
                      is_admin=viewer_is_admin(request),
                      max_steps=settings.max_train_steps)
    return keep_private(response)


def _training_settings(session: Session, model: FastModel) -> dict[str, object] | None:
    job = session.get(Job, model.job_id) if model.job_id else None
    return dict(job.options or {}) if job is not None else None


# A browser's route (errors are pages, like a result's download), so not in the API's
# OpenAPI document; /api/models/{id} gives its address.
@router.get("/models/{model_id}/file", response_class=FileResponse, include_in_schema=False)
def model_download(model_id: str, request: Request, session: SessionDep, store: StoreDep,
                   owner: OwnerDep) -> FileResponse:
    """Export: the model file (safetensors with dreamgen's JSON header), to import in
    another studio or to use with ``dreamgen stylize --model``."""
    model = _model(session, model_id, owner, request)
    path = model_file(store, model)
    if not path.is_file():
        raise HTTPException(404, "the model's file is gone")
    return FileResponse(path, media_type="application/octet-stream",
                        filename=download_name(model),
                        headers={"X-Content-Type-Options": "nosniff",
                                 "Cache-Control": "private, no-store"})


@router.get("/models/{model_id}/picture", include_in_schema=False)
def model_picture(model_id: str, request: Request, session: SessionDep, store: StoreDep,
                  owner: OwnerDep) -> FileResponse:
    model = _model(session, model_id, owner, request)
    if not model.preview_path:
        raise HTTPException(404, "this model has no picture yet")
    return _picture(store, model.preview_path, model)


@router.get("/models/{model_id}/styles/{position}", include_in_schema=False)
def model_style(model_id: str, position: int, request: Request, session: SessionDep,
                store: StoreDep, owner: OwnerDep) -> FileResponse:
    model = _model(session, model_id, owner, request)
    thumbs = list(model.style_thumbs or [])
    if not 0 <= position < len(thumbs) or not thumbs[position]:
        raise HTTPException(404, "no such style picture")
    return _picture(store, thumbs[position], model)


def _picture(store: MediaStore, rel: str, model: FastModel) -> FileResponse:
    """A JPEG of the model's; cached by others only while the model is shared."""
    path = store.path(rel)
    if not path.is_file():
        raise HTTPException(404, "no such file")
    shared = model.shared and not model.hidden
    return FileResponse(path, media_type="image/jpeg", headers={
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'",
        "Cache-Control": "public, max-age=300, must-revalidate" if shared
        else "private, no-store", "Vary": "Cookie"})


# ----------------------------------------------------------------------------- importing
# (declared before ``POST /models/{model_id}``, which would take "import" as an id)
async def _read_model(upload: UploadFile | str | None, settings: Settings) -> bytes:
    """The uploaded model file's bytes, no more than one chunk past the size limit read
    (413 beyond it), refusing an empty or missing file."""
    if upload is None or isinstance(upload, str) or not (upload.filename or upload.size):
        raise Refused("choose a model file (.safetensors) to import")
    limit = settings.max_model_mb * 2**20
    data = bytearray()
    while chunk := await upload.read(CHUNK):
        data += chunk
        if len(data) > limit:
            raise Refused(f"the model file is larger than this studio's "
                          f"{settings.max_model_mb:g} MB limit", 413)
    if not data:
        raise Refused("the model file is empty")
    return bytes(data)


async def _import(request: Request, session: Session, settings: Settings, owner: str,
                  upload: UploadFile | str | None, title: str) -> FastModel:
    check_rate(request)
    data = await _read_model(upload, settings)
    name = title or (upload.filename if isinstance(upload, UploadFile) else "") or ""
    return await run_in_threadpool(import_model, session, request.app.state.store, settings,
                                   owner, data, name.rsplit(".", 1)[0])


@router.post("/api/models", status_code=201, response_model=ModelOut,
             dependencies=[Depends(private_response)],
             responses={413: {"description": "Larger than DREAMGEN_MAX_MODEL_MB."}})
async def import_model_api(request: Request, session: SessionDep, settings: SettingsDep,
                           owner: OwnerDep,
                           model: Annotated[UploadFile | str | None, File()] = None,
                           title: Annotated[str, Form(max_length=1000)] = "") -> ModelOut:
    """Import a model file exported by a dreamgen studio (multipart ``model``, optional
    ``title``). It is checked — size, header, every tensor's name, shape and type, finite
    values — and never unpickled: a damaged, oversized or pickle (.pt/.pth) file is refused
    with the reason (422, or 413 for the size)."""
    found = await _import(request, session, settings, owner, model, title)
    return await run_in_threadpool(model_out, session, found, owner)


@router.post("/models/import", include_in_schema=False)
async def import_from_form(request: Request, session: SessionDep, settings: SettingsDep,
                           owner: OwnerDep,
                           model: Annotated[UploadFile | str | None, File()] = None,
                           title: Annotated[str, Form(max_length=1000)] = "") -> Response:
    try:
        found = await _import(request, session, settings, owner, model, title)
    except StyleTransferError as exc:
        return render(request, "error.html", status_code=status_for(exc),
                      title="That model was not imported", message=str(exc))
    return RedirectResponse(f"/models/{found.public_id}?notice=imported", status_code=303)


# ----------------------------------------------------------------------------- changing
@router.patch("/api/models/{model_id}", response_model=ModelOut,
              dependencies=[Depends(private_response)])
def patch_model(model_id: str, body: ModelIn, request: Request, session: SessionDep,
                owner: OwnerDep) -> ModelOut:
    """Rename it, or share it in the style library (``shared``) or take it out."""
    model = _own_model(session, model_id, owner, request)
    return model_out(session, update_model(session, model, title=body.title,
                                           shared=body.shared), owner)


@router.post("/models/{model_id}", include_in_schema=False)
def model_from_form(model_id: str, request: Request, session: SessionDep, owner: OwnerDep,
                    title: Annotated[str, Form(max_length=1000)] = "",
                    shared: Annotated[bool, Form()] = False) -> Response:
    model = _own_model(session, model_id, owner, request)
    update_model(session, model, title=title, shared=shared)
    return RedirectResponse(f"/models/{model.public_id}?notice=saved", status_code=303)


@router.delete("/api/models/{model_id}", status_code=204)
def delete_model_api(model_id: str, request: Request, session: SessionDep, store: StoreDep,
                     owner: OwnerDep) -> Response:
    """Delete the model (pictures and clips made with it keep their own copies)."""
    delete_model(session, store, _own_model(session, model_id, owner, request))
    return Response(status_code=204)


@router.post("/models/{model_id}/delete", include_in_schema=False)
def delete_from_form(model_id: str, request: Request, session: SessionDep, store: StoreDep,
                     owner: OwnerDep) -> Response:
    delete_model(session, store, _own_model(session, model_id, owner, request))
    return RedirectResponse("/me?notice=model-deleted#models", status_code=303)


@router.post("/admin/models/{model_id}/hide", include_in_schema=False,
             dependencies=[Depends(require_admin)])
def hide_from_form(model_id: str, request: Request, session: SessionDep, owner: OwnerDep,
                   hidden: Annotated[bool, Form()] = True) -> Response:
    model = _model(session, model_id, owner, request)
    update_model(session, model, hidden=hidden)
    return RedirectResponse(f"/models/{model.public_id}", status_code=303)


@router.patch("/api/admin/models/{model_id}", include_in_schema=False,
              dependencies=[Depends(require_admin)])
def hide_model(model_id: str, body: HiddenIn, request: Request, session: SessionDep,
               owner: OwnerDep) -> dict[str, object]:
    """The admin: take a shared model out of the library (it paints nothing more) or back."""
    model = _model(session, model_id, owner, request)
    update_model(session, model, hidden=body.hidden)
    return {"id": model.public_id, "hidden": body.hidden}
