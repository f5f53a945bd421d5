"""Turning many photos (or one ZIP of them) with one set of styles and settings into a batch:
one ordinary job per photo.

The form is the create form (:class:`~app.web.create.form.CreateForm`), so the settings are
refused or settled exactly as for one job (:func:`~app.web.create.submit.settled_engine`,
:func:`~app.web.create.submit.chosen_styles`), before a byte of a photo is read. Then the
photos are streamed to temporary files (each within ``max_upload_mb``; a ZIP within
``max_batch_upload_mb``, then unpacked by :mod:`app.uploads.archive`), the style uploads once.
Each photo then becomes a job through the single upload's own path
(:func:`~app.web.create.submit.store_and_enqueue`: checks in a child process, allowance,
per-person cap, style library), with fresh copies of the style files, so every job owns its
files. A photo refused on the way is reported with its reason and the rest go on; when none
is left, the batch is refused as a whole and nothing is kept.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from fastapi import UploadFile
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.db.batches import Batch
from app.engine.errors import StyleTransferError
from app.engine.weights.store import WeightStore
from app.jobs.batches import add_photo, close_batch, drop_batch, open_batch
from app.people.titles import clean_title
from app.refusals import Refused
from app.settings import Settings
from app.storage import MediaStore
from app.uploads.archive import ArchiveLimits, is_zip, unpack_photos
from app.uploads.storing import style_label
from app.web.create.details import original_names
from app.web.create.form import CreateForm
from app.web.create.receive import save_raw
from app.web.create.submit import (
    Sources,
    chosen_styles,
    settled_engine,
    store_and_enqueue,
)
from app.web.services.check_queue import CheckQueue

MIB = 2**20
NAME_MAX = 255


@dataclass
class Photos:
    """The batch's photos on disk (name as uploaded, temporary file) and those refused."""

    files: list[tuple[str, Path]] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)

    def refuse(self, name: str, reason: str) -> None:
        self.refused.append({"name": name, "reason": reason})

    def remove(self) -> None:
        for _, path in self.files:
            path.unlink(missing_ok=True)


def new_raw_path(store: MediaStore) -> Path:
    """A fresh temporary file in the media folder for an upload's raw bytes."""
    return store.temp_path_for(store.new_path("uploads", ".part"))


def archive_limits(settings: Settings) -> ArchiveLimits:
    """The settings' limits on a batch's ZIP."""
    return ArchiveLimits(max_members=settings.max_batch_photos,
                         max_member_bytes=settings.max_upload_mb * MIB,
                         max_total_bytes=settings.max_zip_unpacked_mb * MIB,
                         max_ratio=settings.max_zip_ratio)


def photo_name(upload: UploadFile, position: int) -> str:
    """The upload's file name as people see it (a nameless one gets its position)."""
    name = "".join(c for c in (upload.filename or "") if c.isprintable()).strip()
    return name[-NAME_MAX:] or f"photo {position + 1}"


async def create_batch(session: Session, store: MediaStore, settings: Settings,
                       weights: WeightStore, owner_id: str, form: CreateForm,
                       photos: list[UploadFile], archive: UploadFile | None, *,
                       checks: CheckQueue, on_queued: Callable[[], None] = lambda: None
                       ) -> Batch:
    """Validate the settings, receive the photos, queue one job per photo (calling
    ``on_queued`` after each, so a worker starts on it while the next is checked). Returns
    the batch (its ``refused`` says which photos did not become jobs, and why); raises
    :class:`Refused` when the request itself is refused or no photo is left."""
    options, spec = settled_engine(form, settings, weights)
    chosen = [p for p in photos if p.filename or p.size]
    if archive is not None and chosen:
        raise Refused("send the photos, or one ZIP of them, not both")
    if archive is None and not chosen:
        raise Refused("choose the photos for the batch (or one ZIP of them)")
    if len(chosen) > settings.max_batch_photos:
        raise Refused(f"{len(chosen)} photos sent; a batch takes at most "
                      f"{settings.max_batch_photos}", 413)
    styles, style_ids, what = chosen_styles(form, spec)
    style_raws = [(new_raw_path(store), "style", what or style_label(i, len(styles)))
                  for i in range(len(styles))]
    received = Photos()
    try:
        for (path, _, label), upload in zip(style_raws, styles):
            await save_raw(upload, path, settings, label)
        if archive is not None:
            await _receive_archive(store, settings, archive, received)
        else:
            await _receive_photos(store, settings, chosen, received)
        if not received.files:
            raise Refused(nothing_left(received.refused))
        batch = await run_in_threadpool(open_batch, session, owner_id)
        details = {"title": clean_title(form.title), "show_original": form.show_original,
                   "style_names": original_names(session, form)["style_names"]}
        made = 0
        for position, (name, raw) in enumerate(received.files):
            copies: list[tuple[Path, str, str]] = []
            try:
                copies = _style_copies(store, style_raws)
                sources = Sources([(raw, "content", name), *copies], False, style_ids,
                                  dict(details, content_name=name))
                async with checks.turn():
                    job = await run_in_threadpool(store_and_enqueue, session, store, settings,
                                                  owner_id, options, spec, form, sources)
            except StyleTransferError as exc:      # a Refused, or a decoder's word on it
                received.refuse(name, str(exc))
                continue
            finally:
                for path, _, _ in copies:
                    path.unlink(missing_ok=True)
            await run_in_threadpool(add_photo, session, batch, position, name, job)
            on_queued()
            made += 1
        if not made:
            await run_in_threadpool(drop_batch, session, batch)
            raise Refused(nothing_left(received.refused))
        await run_in_threadpool(close_batch, session, batch, received.refused)
        return batch
    finally:
        received.remove()
        for path, _, _ in style_raws:
            path.unlink(missing_ok=True)


def nothing_left(refused: list[dict[str, str]]) -> str:
    """The refusal of a batch none of whose photos could be used, naming why."""
    why = "; ".join(f"{r['name']}: {r['reason']}" for r in refused[:5])
    more = f" (and {len(refused) - 5} more)" if len(refused) > 5 else ""
    return f"none of the photos could be used, so nothing was kept: {why}{more}" \
        if refused else "the batch holds no photos"


async def _receive_photos(store: MediaStore, settings: Settings, uploads: list[UploadFile],
                          received: Photos) -> None:
    """Stream each photo to a temporary file; one too large or empty is refused alone."""
    for position, upload in enumerate(uploads):
        name, path = photo_name(upload, position), new_raw_path(store)
        try:
            await save_raw(upload, path, settings, name)
        except Refused as exc:
            path.unlink(missing_ok=True)
            received.refuse(name, str(exc))
            continue
        received.files.append((name, path))


async def _receive_archive(store: MediaStore, settings: Settings, archive: UploadFile,
                           received: Photos) -> None:
    """Stream the ZIP to a temporary file and unpack its photos (a refused member is
    reported; a hostile archive is refused whole)."""
    path = new_raw_path(store)
    try:
        await save_raw(archive, path, settings, "the ZIP file", settings.max_batch_upload_mb)
        if not is_zip(path):
            raise Refused("the file sent as zip is not a ZIP file", 415)
        unpacked, skipped = await run_in_threadpool(
            unpack_photos, path, lambda: new_raw_path(store), archive_limits(settings))
    finally:
        path.unlink(missing_ok=True)
    received.files += [(member.name.rsplit("/", 1)[-1] or member.name, member.path)
                       for member in unpacked]
    for member in skipped:
        received.refuse(member.name, member.reason)


def _style_copies(store: MediaStore, style_raws: list[tuple[Path, str, str]]
                  ) -> list[tuple[Path, str, str]]:
    """Fresh copies of the received style files for one job (checking consumes them)."""
    copies: list[tuple[Path, str, str]] = []
    try:
        for path, role, label in style_raws:
            copies.append((new_raw_path(store), role, label))
            shutil.copyfile(path, copies[-1][0])
    except BaseException:
        for copy, _, _ in copies:
            copy.unlink(missing_ok=True)
        raise
    return copies
