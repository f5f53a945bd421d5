"""Turning a submitted form (page or API) into a queued job.

Order matters: the values first (the quality choice, the options schema, then what this
server allows), then the engine (known, installed), then the bytes are streamed to temporary
files (size limits), then, in a worker thread so the event loop keeps serving, the disk
floor, the files (checked in a child process, fsynced), the style library's rows and only
then the job row. Any failure removes what was stored.

Where the pictures come from: ``content`` (an upload) or ``content_from`` (the owner's earlier
job: its file goes through the same checks as an upload); styles are the ``style`` uploads,
then the ``style_id`` picks from the library, in that order (``style_weights`` follow it);
``style_from`` (an earlier result's styles) counts only when neither is given. In Deep Dream
mode ``guide`` (or, for older clients, one style) is the optional guide image. A fast model
(``model_id``: :mod:`app.web.create.fast_model`) paints with its own styles instead.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import UploadFile
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.db.engine import begin_write
from app.db.models import Job, JobState
from app.engine.dispatch import check_style_count, resolve_engine, video_refusal
from app.engine.images import fit_size
from app.engine.options import MAX_STYLES, StyleOptions
from app.engine.spec import EngineSpec
from app.engine.weights.store import WeightStore
from app.jobs.costs import check_room_in_line
from app.jobs.queue import enqueue_job, get_job
from app.people.allowances import check_allowance, job_cost, spending
from app.people.styles import (
    StyleUnavailable,
    is_listed,
    job_style_shares,
    register_styles,
    usable_style,
)
from app.refusals import Refused
from app.settings import Settings
from app.storage import MediaStore
from app.uploads.storing import (
    StoredUpload,
    check_free_disk,
    copy_stored,
    larger_choice,
    store_uploads,
    style_label,
)
from app.web.create.dreams import dream_network, fit_octaves
from app.web.create.fast_model import engine_for, use_model
from app.web.create.form import CreateForm
from app.web.create.masking import mask_details, mask_raws
from app.web.create.receive import save_raw
from app.web.services.check_queue import CheckQueue
from app.web.visibility import HIDDEN_REUSE, reuse_refusal

NOT_INSTALLED = ("the {label} engine is not installed on this server; ask its admin to add "
                 "it, or choose another engine")


class EngineNotInstalled(Refused):
    """A request for an engine whose weights this server does not have (409)."""

    def __init__(self, spec: EngineSpec) -> None:
        super().__init__(NOT_INSTALLED.format(label=spec.label), 409)


def installed_engine(name: str, weights: WeightStore) -> EngineSpec:
    """The engine ``name`` resolves to, refusing one this server has no weights for."""
    spec = resolve_engine(name, weights)
    if not weights.engine_ready(spec):
        raise EngineNotInstalled(spec)
    return spec


def settled_engine(form: CreateForm, settings: Settings, weights: WeightStore
                   ) -> tuple[StyleOptions, EngineSpec]:
    """The form's options and the installed engine they name (a fast model's when one is
    chosen; Deep Dream: with the network
    that will dream, 409 when none is installed)."""
    options = engine_for(form.options(settings, weights), form.model_id)
    spec = installed_engine(options.engine, weights)
    if spec.mode == "dream":        # the job keeps the network that will dream (409: none)
        options = options.model_copy(update={"network": dream_network(options, weights).name})
    return options, spec


def chosen_styles(form: CreateForm, spec: EngineSpec
                  ) -> tuple[list[UploadFile], list[int], str | None]:
    """The style (or, for Deep Dream, guide) uploads, the library picks (at most
    ``MAX_STYLES`` in all), and what to call the uploads ("the guide image"; None: "style
    image N")."""
    guide = chosen_uploads([form.guide]) if spec.mode == "dream" else []
    styles = guide or chosen_uploads(form.styles)
    style_ids = [] if guide else library_ids(form.style_ids)
    if spec.takes_model and (styles or style_ids):
        raise Refused("a fast model paints its own styles: remove the style images, or "
                      "the model")
    if len(styles) + len(style_ids) > MAX_STYLES:
        raise Refused(f"use at most {MAX_STYLES} style images")
    return styles, style_ids, "the guide image" if guide else None


def chosen_uploads(files: list[UploadFile | str | None]) -> list[UploadFile]:
    # A browser sends a file input left empty as a part with no filename, which arrives as "".
    return [f for f in files if f is not None and not isinstance(f, str)
            and (f.filename or f.size)]


def library_ids(texts: list[str]) -> list[int]:
    """The ``style_id`` fields as numbers, refusing anything else in words."""
    ids = []
    for text in texts:
        if not text.strip().isdigit():
            raise Refused("style_id must be the number of a style in the library, "
                          f"not {text!r}")
        if int(text) >= 2**31:           # past any id, and past what the database takes
            raise Refused(f"there is no style {int(text)} in the library", 404)
        ids.append(int(text))
    return ids


@dataclass
class Sources:
    """Where this job's pictures come from, once the uploads are read."""

    raws: list[tuple[Path, str, str]]    # temporary file, role, what (the content first)
    reuse_content: bool                  # raws[0] is filled from ``content_from``
    style_ids: list[int]                 # library picks, after the uploads
    details: dict[str, Any]              # the job row's other columns (title, names ...)
    masked: bool = False                 # raws[-1] is the brushed mask


async def create_job(session: Session, store: MediaStore, settings: Settings,
                     weights: WeightStore, owner_id: str, form: CreateForm,
                     details: dict[str, Any] | None = None, *, checks: CheckQueue) -> Job:
    """Validate everything, store the files, queue the job (with ``details``: columns such
    as its title, written in the same transaction); the files are checked in turn
    (``checks``). Raises ``StyleTransferError``."""
    options, spec = settled_engine(form, settings, weights)
    content = chosen_uploads([form.content])
    if not content and not form.content_from:
        raise Refused("choose a content image or video")
    styles, style_ids, what = chosen_styles(form, spec)
    raws = [(store.temp_path_for(store.new_path("uploads", ".part")), "content",
             "the content file")]
    raws += [(store.temp_path_for(store.new_path("uploads", ".part")), "style",
              what or style_label(i, len(styles))) for i in range(len(styles))]
    masks = chosen_uploads([form.mask])
    raws += mask_raws(store, masks)
    sources = Sources(raws, not content, style_ids, details or {}, bool(masks))
    uploads: list[UploadFile | None] = [content[0] if content else None, *styles, *masks]
    try:
        for (path, _, label), upload in zip(raws, uploads):
            if upload is not None:       # None: the content comes from content_from
                await save_raw(upload, path, settings, label)
        # Checking, fsync and SQLite may block for a while: never on the event loop, where a
        # wait for a pooled connection would also stall the requests that return them.
        async with checks.turn():
            return await run_in_threadpool(store_and_enqueue, session, store, settings,
                                           owner_id, options, spec, form, sources)
    finally:
        for path, _, _ in raws:
            path.unlink(missing_ok=True)


def store_and_enqueue(session: Session, store: MediaStore, settings: Settings, owner_id: str,
                      options: StyleOptions, spec: EngineSpec, form: CreateForm,
                      sources: Sources) -> Job:
    """The blocking half of :func:`create_job`: the reused files, the disk floor, the files
    (checked in a child process and fsynced), the library's rows, then the job row."""
    raws = sources.raws[:-1] if sources.masked else sources.raws
    picks = [library_file(session, sid, owner_id) for sid in sources.style_ids]
    picked = [path for path, _ in picks]
    reused, reused_shares = ([], []) if len(raws) > 1 or picked or spec.takes_model else \
        reused_styles(session, form.style_from, owner_id)
    count = len(raws) - 1 + len(picked) + len(reused)
    # offered to the public library: uploads only when their owner said so; a pick that
    # the library lists already; another result's styles as that result offered them
    shared = [form.share_styles] * (len(raws) - 1) + \
        [form.share_styles or listed for _, listed in picks] + reused_shares
    check_style_count(spec, count, options.style_weights)
    check_allowance(session, owner_id, job_cost(spec.name, options.stored()))  # a frame
    check_free_disk(store, settings)
    if sources.reuse_content:
        copy_earlier_content(session, store, form.content_from, owner_id, raws[0][0])
    stored: list[StoredUpload] = []
    model: list[str] = []
    try:
        if spec.takes_model:
            copy, options = use_model(session, store, form.model_id, form.model_style,
                                      owner_id, options)
            model.append(copy)
        stored = store_uploads(store, settings, sources.raws, options.max_side,
                               (options.trim_start, options.trim_end))
        inputs, mask = (stored[:-1], stored[-1]) if sources.masked else (list(stored), None)
        if inputs[0].kind == "video" and not spec.takes_video:
            raise Refused(video_refusal(spec))
        masked = mask_details(store, spec, inputs[0], mask, count)
        check_fits_engine(inputs[0], options.max_side, spec)
        check_room_in_line(session, owner_id, spec.name, options.stored(), inputs[0].frames,
                           settings.max_queued_minutes_per_person)
        ran: dict[str, Any] = dict(masked.pop("options", {}))
        if spec.mode == "dream":
            options, fitted = fit_octaves(options, inputs[0].width, inputs[0].height,
                                          typed=bool(form.extra.get("octaves", "").strip()))
            ran.update(fitted)
        copies = [copy_stored(store, rel) for rel in [*picked, *reused]]
        stored += copies
        return _enqueue_with_styles(session, store, owner_id, options, spec, form,
                                    inputs + copies,
                                    {**sources.details, "style_shared": shared, **masked,
                                     "model_path": model[0] if model else None}, ran)
    except BaseException:
        store.remove([s.rel for s in stored] + model)
        raise


def check_fits_engine(content: StoredUpload, max_side: int, spec: EngineSpec) -> None:
    """Refuse a photo or clip whose resized shorter side the engine cannot take."""
    width, height = fit_size(content.width, content.height, max_side)
    if min(width, height) >= spec.min_side:
        return
    what = "clip" if content.kind == "video" else "photo"
    raise Refused(
        f"the {what} is {content.width}x{content.height}, which makes {width}x{height} at "
        f"{max_side} px; {spec.label} needs at least {spec.min_side} px on each side: choose "
        f"{larger_choice(content.width, content.height, max_side, what)}")


def _enqueue_with_styles(session: Session, store: MediaStore, owner_id: str,
                         options: StyleOptions, spec: EngineSpec, form: CreateForm,
                         stored: list[StoredUpload], details: dict[str, Any],
                         ran: dict[str, Any]) -> Job:
    """The job row (its options plus ``ran``: what was settled beside them, such as the
    octaves a quality asked for when fewer fit) and its style library rows."""
    return enqueue_with_library_styles(
        session, store, [s.rel for s in stored[1:]], owner_id=owner_id, kind=stored[0].kind,
        engine=spec.name, options={**options.stored(), **ran, "engine": spec.name},
        content_path=stored[0].rel, visibility=form.visibility,
        with_job=spending(owner_id, job_cost(spec.name, options.stored(), stored[0].frames)),
        frames=stored[0].frames, **details)


def enqueue_with_library_styles(session: Session, store: MediaStore, styles: list[str],
                                **job: Any) -> Job:
    """The job row (``job``: :func:`~app.jobs.queue.enqueue_job`'s fields) with its
    ``styles`` files and their style library rows, in one transaction. Tried twice: a
    second request adding the same new style at the same moment, or a deleted job's styles
    leaving the library meanwhile, makes the first try's commit fail."""
    attempt = 1
    while True:
        made: list[str] = []
        try:
            begin_write(session)
            style_ids = register_styles(session, store, styles, made)
            return enqueue_job(session, style_paths=styles, style_ids=style_ids, **job)
        except BaseException as exc:
            session.rollback()
            store.remove(made)
            if not isinstance(exc, IntegrityError) or attempt == 2:
                raise
            attempt += 1


def library_file(session: Session, style_id: int, owner_id: str) -> tuple[str, bool]:
    """The stored file of a library style this visitor may use (404 otherwise), and whether
    the library lists it."""
    try:
        style = usable_style(session, style_id, owner_id)
    except StyleUnavailable as exc:
        raise Refused(str(exc), 404) from None
    return style.path, is_listed(session, style)


def copy_earlier_content(session: Session, store: MediaStore, public_id: str | None,
                          owner_id: str, raw: Path) -> None:
    """Fill ``raw`` with the content file of the visitor's own job ``public_id`` ("try
    again" keeps the photo); it is then checked like any upload."""
    job = get_job(session, public_id) if public_id else None
    if job is None or job.deleted_at is not None:
        raise Refused("the earlier job whose photo you wanted to reuse is gone; "
                      "choose the content again", 404)
    if job.owner_id != owner_id:
        raise Refused("only the person who made that job may reuse its photo", 403)
    if job.hidden:
        raise Refused(HIDDEN_REUSE, 409)
    try:
        shutil.copyfile(store.path(job.content_path), raw)
    except OSError:
        raise Refused("the photo of the earlier job is gone; choose the content "
                      "again", 404) from None


def reused_styles(session: Session, style_from: str | None,
                   owner_id: str) -> tuple[list[str], list[bool]]:
    """Style files of an earlier finished job ("use this style again"), and whether that
    job offered each to the library (none of a result the admin hid, nor a style it took
    out of the library)."""
    if not style_from:
        return [], []
    job = get_job(session, style_from)
    if job is None or job.state != JobState.SUCCEEDED or job.deleted_at is not None:
        raise Refused("the result whose style you wanted to reuse is gone", 404)
    refusal = reuse_refusal(session, job, owner_id)
    if refusal is not None:
        status, reason = refusal
        raise Refused(reason, status)
    shares = job_style_shares(session, job.id)
    return list(job.style_paths), [i < len(shares) and shares[i]
                                   for i in range(len(job.style_paths))]
