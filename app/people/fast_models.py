"""Fast models people own: made by a training job or imported from a file, listed among
their owner's styles, in the style library once shared, painted with as the engine whose
spec ``takes_model``.

A model keeps its own copies of its files under ``models/`` (the model, the picture it
painted of the training's fixed photo, a thumbnail of each style it learnt), so deleting the
job that trained it, or a job that painted with it, breaks nothing. A training job's model
row is written in the same transaction as the job's success (:func:`finish_training`), so
a finished training always has its model. An imported file is checked before anything is
stored (:func:`app.engine.methods.trained.model_file.parse_model`: never unpickled).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from app.db.engine import begin_write
from app.db.models import FastModel, Job
from app.engine.methods.trained.model_file import (
    SUFFIX,
    megabytes,
    parse_model,
    read_header,
)
from app.jobs.messages import JobResult
from app.jobs.queue import finish_job
from app.jobs.thumbnails import jpeg_bytes
from app.people.copies import copy_media_file
from app.people.titles import clean_title
from app.refusals import Refused
from app.settings import Settings
from app.storage import MediaStore, sha256_file

FOLDER = "models"
STYLE_THUMB_SIDE = 160


class ModelUnavailable(LookupError):
    """A model that cannot be used or seen, with the reason in words."""


def _style_thumbs(store: MediaStore, rels: list[str], made: list[str]) -> list[str]:
    thumbs = []
    for rel in rels:
        with Image.open(store.path(rel)) as image:
            data = jpeg_bytes(image, STYLE_THUMB_SIDE)
        thumb = store.new_path(FOLDER, ".jpg")
        store.write_atomic(thumb, data)
        made.append(thumb)
        thumbs.append(thumb)
    return thumbs


def finish_training(db_engine: Engine, store: MediaStore, job: Job, token: str,
                    result: JobResult) -> bool:
    """Mark the training ``job`` succeeded and add its model to its owner's, in one
    transaction, only while ``token`` holds the claim (False otherwise, and the model's own
    copies are removed again)."""
    made: list[str] = []
    try:
        path = copy_media_file(store, result.result_path, FOLDER)
        made.append(path)
        preview = copy_media_file(store, result.preview_path, FOLDER) \
            if result.preview_path else None
        made += [preview] if preview else []
        header = read_header(store.path(path))
        base = [copy_media_file(store, t, FOLDER) if t and store.exists(t) else None
                for t in (job.options or {}).get("base_thumbs") or []]
        made += [t for t in base if t]
        model = FastModel(owner_id=job.owner_id, job_id=job.id, path=path, preview_path=preview,
                          title=clean_title(job.title) or "My fast model",
                          style_names=header.style_names,
                          style_thumbs=base + _style_thumbs(store, list(job.style_paths), made),
                          size_bytes=store.path(path).stat().st_size,
                          sha256=sha256_file(store.path(path)))
        written = finish_job(db_engine, job.id, token, result_path=result.result_path,
                             thumb_path=result.thumb_path, width=result.width,
                             height=result.height, preview_path=result.preview_path,
                             also=lambda session: session.add(model))
    except BaseException:
        store.remove(made)
        raise
    if not written:
        store.remove(made)
    return written


def import_model(session: Session, store: MediaStore, settings: Settings, owner_id: str,
                 data: bytes, title: str) -> FastModel:
    """Check a model file's bytes and add it to ``owner_id``'s models (never unpickled:
    :func:`~app.engine.methods.trained.model_file.parse_model`). Raises :class:`Refused`:
    413 for a file over the size limit, 422 for anything else wrong with it."""
    from app.engine.methods.trained.model_file import ModelRefused

    try:
        header, _ = parse_model(data, megabytes(settings.max_model_mb))
    except ModelRefused as exc:
        raise Refused(str(exc), 413 if exc.too_large else 422) from None
    path = store.new_path(FOLDER, SUFFIX)
    store.write_atomic(path, data)
    try:
        begin_write(session)
        model = FastModel(owner_id=owner_id, path=path, title=clean_title(title) or
                          "Imported model", style_names=header.style_names, style_thumbs=[],
                          size_bytes=len(data), sha256=sha256_file(store.path(path)))
        session.add(model)
        session.commit()
    except BaseException:
        session.rollback()
        store.remove([path])
        raise
    return model


def owner_models(session: Session, owner_id: str) -> list[FastModel]:
    """``owner_id``'s models, newest first."""
    return list(session.scalars(select(FastModel).where(FastModel.owner_id == owner_id)
                                .order_by(FastModel.id.desc())).all())


def shared_models(session: Session, limit: int = 48) -> list[FastModel]:
    """The models their owners put in the style library (none the admin hid), newest
    first."""
    return list(session.scalars(select(FastModel).where(FastModel.shared.is_(True),
                                                        FastModel.hidden.is_(False))
                                .order_by(FastModel.id.desc()).limit(limit)).all())


def find_model(session: Session, public_id: str) -> FastModel | None:
    if not public_id or len(public_id) > 32:
        return None
    return session.scalar(select(FastModel).where(FastModel.public_id == public_id))


def visible_model(session: Session, public_id: str, owner_id: str,
                  is_admin: bool = False) -> FastModel:
    """The model ``public_id`` if this visitor may see and paint with it: their own, or
    shared and not hidden (the admin sees every one). Raises :class:`ModelUnavailable`
    without telling a stranger that a private model exists."""
    model = find_model(session, public_id)
    if model is None or not (model.owner_id == owner_id or model.shared or is_admin):
        raise ModelUnavailable("there is no such fast model")
    if model.hidden and not is_admin:
        raise ModelUnavailable("this fast model was taken out of the library by the "
                               "studio's admin")
    return model


def update_model(session: Session, model: FastModel, *, title: str | None = None,
                 shared: bool | None = None, hidden: bool | None = None) -> FastModel:
    """Rename, share or unshare (its owner), hide or show (the admin)."""
    begin_write(session)
    if title is not None:
        model.title = clean_title(title) or model.title
    if shared is not None:
        model.shared = shared
    if hidden is not None:
        model.hidden = hidden
    session.commit()
    return model


def delete_model(session: Session, store: MediaStore, model: FastModel) -> None:
    """Remove the model's row and its files (jobs that painted with it keep their copies)."""
    files = model.media_paths()
    begin_write(session)
    session.execute(delete(FastModel).where(FastModel.id == model.id))
    session.commit()
    store.remove(files)


def model_file(store: MediaStore, model: FastModel) -> Path:
    """The model's file on disk."""
    return store.path(model.path)


def download_name(model: FastModel) -> str:
    """What an exported model is saved as: its title, safe for a file name."""
    stem = "".join(c if c.isalnum() or c in " -_" else "_" for c in model.title).strip()
    return f"{stem or 'model'}{SUFFIX}"


def preview_jpeg(store: MediaStore, model: FastModel) -> bytes | None:
    """The model's picture, as stored (None for an imported model: it painted nothing
    here yet)."""
    if not model.preview_path or not store.exists(model.preview_path):
        return None
    return store.path(model.preview_path).read_bytes()

