"""Turning "Train a fast model" into a training job (the create page, a result page, the
style library, a model's page: "add a style"; and ``POST /api/train``).

The styles come as on the create form: ``style`` uploads, ``style_id`` library picks, else
``style_from`` (an earlier result's styles). ``content`` (or ``content_from``) is optional:
a photo becomes the fixed photo the previews paint (else a sample photo that ships with
dreamgen); with ``photos=clip`` it must be a clip, whose own frames the model learns from.
``base_model`` adds the styles to one of the owner's models (only the new styles' parameters
train, the network's shape is the model's). Files are checked and stored exactly as for a
picture; the job's options are the :class:`~app.engine.methods.trained.train_options.TrainOptions`
plus the style titles the model will carry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Form, UploadFile
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.db.models import FastModel, Job, StyleImage
from app.engine.errors import StyleTransferError
from app.engine.methods.trained.photos import sample_photos
from app.engine.methods.trained.train_options import TrainOptions, parse_train_options
from app.engine.options import MAX_STYLES
from app.jobs.costs import check_room_in_line
from app.people.allowances import check_allowance, job_cost, spending
from app.people.copies import copy_media_file
from app.people.fast_models import FOLDER
from app.people.titles import clean_title
from app.refusals import Refused
from app.settings import Settings
from app.storage import MediaStore
from app.uploads.storing import (
    StoredUpload,
    check_free_disk,
    copy_stored,
    store_uploads,
    style_label,
)
from app.web.create.fast_model import painting_engine, usable_model
from app.web.create.receive import save_raw
from app.web.create.submit import (
    chosen_uploads,
    copy_earlier_content,
    enqueue_with_library_styles,
    library_file,
    library_ids,
    reused_styles,
)
from app.web.services.check_queue import CheckQueue

PREVIEW_SIDE = 512      # the fixed photo is kept at most this large


class TrainForm(BaseModel):
    """The fields of a training request (multipart)."""

    model_config = ConfigDict(extra="ignore", arbitrary_types_allowed=True)

    style: list[UploadFile | str] = Field(default_factory=list, description="a style image "
                                          "to learn (repeat for several: one network, one "
                                          "set of normalisation parameters each)")
    style_id: list[str] = Field(default_factory=list, description="a style from the library")
    style_from: str = Field("", description="the id of a result whose styles to learn (when "
                            "no style or style_id is given)")
    content: UploadFile | str | None = Field(None, description="optional: the photo the "
                                             "previews paint, or the clip to learn from")
    content_from: str = Field("", description="the id of your own earlier job whose photo "
                              "or clip to use as the content")
    photos: str = Field("auto", description="auto (the studio's photos) or clip (the "
                        "content clip's own frames: a model fitted to that clip)")
    base_model: str = Field("", description="the id of your fast model to add these styles "
                            "to (its convolutions stay as they are)")
    steps: str = Field("", description="training steps (blank: 2000)")
    train_size: str = Field("", description="the side of the photo crops it trains on, in "
                            "pixels (blank: 256)")
    width: str = Field("", description="network width, 8, 16, 32 or 64 (blank: 16)")
    title: str = Field("", max_length=1000, description="the model's name")
    visibility: str = Field("public", description="public or unlisted: who sees the "
                            "training's page")
    share_styles: bool = Field(False, description="add the uploaded style images to the "
                               "public style library")

    @property
    def style_ids(self) -> list[str]:
        return [s for s in self.style_id if s.strip()]


TrainFormDep = Annotated[TrainForm, Form()]


def train_options(form: TrainForm, settings: Settings, base: FastModel | None,
                  base_width: int | None, base_blocks: int | None) -> TrainOptions:
    """The training's options from the form, within this server's limits (a model that
    gets new styles keeps its own network shape)."""
    values: dict[str, Any] = {"steps": form.steps, "size": form.train_size,
                              "width": form.width, "photos": form.photos}
    if base is not None:
        values.update(width=base_width, blocks=base_blocks)
    options = parse_train_options(values)
    if options.steps > settings.max_train_steps:
        raise Refused(f"training steps must be at most {settings.max_train_steps} on this "
                      f"server, not {options.steps}")
    return options


async def create_training(session: Session, store: MediaStore, settings: Settings,
                          owner_id: str, form: TrainForm, *, checks: CheckQueue) -> Job:
    """Validate, store the files, queue the training job. Raises ``StyleTransferError``."""
    if form.visibility not in ("public", "unlisted"):
        raise Refused("visibility must be public or unlisted")
    if form.photos not in ("auto", "clip"):
        raise Refused(f"photos must be auto or clip, not {form.photos!r}")
    content = chosen_uploads([form.content])
    styles = chosen_uploads(form.style)
    ids = library_ids(form.style_ids)
    if len(styles) + len(ids) > MAX_STYLES:
        raise Refused(f"use at most {MAX_STYLES} style images")
    if form.photos == "clip" and not content and not form.content_from:
        raise Refused("choose the clip to train on")
    raws = [(store.temp_path_for(store.new_path("uploads", ".part")), "style",
             style_label(i, len(styles))) for i in range(len(styles))]
    raw_content = store.temp_path_for(store.new_path("uploads", ".part"))
    try:
        for (path, _, label), upload in zip(raws, styles):
            await save_raw(upload, path, settings, label)
        if content:
            await save_raw(content[0], raw_content, settings, "the content file")
        async with checks.turn():
            return await run_in_threadpool(
                _store_and_enqueue, session, store, settings, owner_id, form, raws,
                raw_content if content else None, ids)
    finally:
        for path in [p for p, _, _ in raws] + [raw_content]:
            path.unlink(missing_ok=True)


def _store_and_enqueue(session: Session, store: MediaStore, settings: Settings,
                       owner_id: str, form: TrainForm, raws: list[tuple[Path, str, str]],
                       raw_content: Path | None, ids: list[int]) -> Job:
    """The blocking half: the base model, the styles, the content, the job row."""
    base = usable_model(session, form.base_model, owner_id) if form.base_model.strip() \
        else None
    if base is not None and base.owner_id != owner_id:
        raise Refused("only its owner may add styles to a fast model", 403)
    shape = _base_shape(store, base)
    options = train_options(form, settings, base, *shape)
    picks = [library_file(session, sid, owner_id) for sid in ids]
    reused, reused_shares = ([], []) if raws or picks else \
        reused_styles(session, form.style_from, owner_id)
    if not raws and not picks and not reused:
        raise Refused("choose at least one style image to train on")
    engine = painting_engine().name
    units = job_cost(engine, options.stored())      # its steps, each a painterly iteration
    check_allowance(session, owner_id, units)
    check_room_in_line(session, owner_id, engine, options.stored(), 1,
                       settings.max_queued_minutes_per_person, kind="train")
    if form.content_from and raw_content is None:
        raw_content = store.temp_path_for(store.new_path("uploads", ".part"))
        copy_earlier_content(session, store, form.content_from, owner_id, raw_content)
    check_free_disk(store, settings)
    stored: list[StoredUpload] = []
    made: list[str] = []
    try:
        content_raw = [(raw_content, "content", "the content file")] if raw_content else []
        checked = store_uploads(store, settings, content_raw + raws, PREVIEW_SIDE)
        stored = checked
        content = checked[0] if raw_content else None
        if options.photos == "clip" and (content is None or content.kind != "video"):
            raise Refused("to train on a clip, the content must be a clip")
        if content is not None and content.kind == "video" and options.photos != "clip":
            raise Refused("a clip trains a model only on its own frames: choose "
                          "\"train on this clip\" (photos=clip), or give a photo")
        style_files = [s.rel for s in (checked[1:] if raw_content else checked)]
        style_files += [copy_stored(store, rel).rel for rel in
                        [*(p for p, _ in picks), *reused]]
        made += style_files
        content_rel = content.rel if content else _sample_copy(store)
        if content is None:
            made.append(content_rel)
        model_rel = copy_media_file(store, base.path, FOLDER) if base else None
        made += [model_rel] if model_rel else []
        titles = _style_titles(session, len(raws), ids, len(reused))
        shared = [form.share_styles] * len(raws) + \
            [form.share_styles or listed for _, listed in picks] + reused_shares
        job_options = {**options.stored(), "engine": engine, "style_titles": titles,
                       "base_thumbs": list(base.style_thumbs) if base else []}
        return enqueue_with_library_styles(
            session, store, style_files, owner_id=owner_id, kind="train",
            engine=engine, options=job_options, content_path=content_rel,
            visibility=form.visibility, style_shared=shared, model_path=model_rel,
            title=clean_title(form.title) or _default_title(titles, base),
            with_job=spending(owner_id, units))
    except BaseException:
        store.remove([s.rel for s in stored] + made)
        raise
    finally:
        if raw_content is not None:
            raw_content.unlink(missing_ok=True)


def _sample_copy(store: MediaStore) -> str:
    """A copy of the first sample photo: the fixed photo of a training given none."""
    source = sample_photos()[0]
    rel = store.new_path("uploads", source.suffix)
    store.write_atomic(rel, source.read_bytes())
    return rel


def _base_shape(store: MediaStore, base: FastModel | None) -> tuple[int | None, int | None]:
    """The width and blocks of the model new styles are added to (read from its header)."""
    if base is None:
        return None, None
    from app.engine.methods.trained.model_file import read_header

    try:
        header = read_header(store.path(base.path))
    except (OSError, StyleTransferError):
        raise Refused("that fast model's file cannot be read", 409) from None
    return header.network.width, header.network.blocks


def _style_titles(session: Session, uploads: int, ids: list[int], reused: int) -> list[str]:
    """What the model calls each new style: a library style's title, else "Style N" (a
    file's name stays private: the model file is shared)."""
    titles = [f"Style {i + 1}" for i in range(uploads)]
    for sid in ids:
        style = session.get(StyleImage, sid)
        titles.append((style.title if style and style.title else None)
                      or f"Style {len(titles) + 1}")
    titles += [f"Style {len(titles) + i + 1}" for i in range(reused)]
    return titles


def _default_title(titles: list[str], base: FastModel | None) -> str:
    if base is not None:
        more = f"{len(titles)} style{'s' if len(titles) > 1 else ''}"
        return clean_title(f"{base.title} + {more}") or base.title
    named = [t for t in titles if not t.startswith("Style ")]
    return clean_title(f"Fast model: {named[0]}" if named else "My fast model") or "My fast model"
