"""Running a finished job again with copies of its files and the same choices: the result
page's "Run again" (:mod:`app.web.routes.job_actions`) and a batch's "Retry the failed ones"
(:mod:`app.web.routes.batches`)."""

from __future__ import annotations

from fastapi import HTTPException
from sqlalchemy.orm import Session

from app.db.batches import Batch
from app.db.models import Job
from app.engine.weights.store import WeightStore
from app.jobs.batches import point_photo, retryable
from app.jobs.costs import check_room_in_line
from app.jobs.queue import enqueue_job
from app.people.allowances import check_allowance, earlier_cost, spending
from app.people.copies import copy_derived_inputs, copy_inputs, copy_media_file
from app.people.styles import job_style_ids, job_style_shares
from app.refusals import Refused
from app.settings import Settings
from app.storage import MediaStore
from app.uploads.storing import check_free_disk
from app.web.batch_view import viewer_photos
from app.web.create.submit import installed_engine
from app.web.visibility import refuse_hidden_reuse


def retry_job(session: Session, store: MediaStore, settings: Settings, weights: WeightStore,
              source: Job) -> Job:
    """Queue a new job with copies of ``source``'s files and the same options and choices
    (refused for a result the admin hid, or one whose library style the admin hid)."""
    if not source.is_finished:
        raise HTTPException(409, f"this job is still {source.state}; wait for it or cancel it")
    refuse_hidden_reuse(session, source, source.owner_id)
    installed_engine(source.engine, weights)
    units = earlier_cost(session, source)
    check_allowance(session, source.owner_id, units)
    check_free_disk(store, settings)
    try:
        content, styles = copy_inputs(store, source)
        extras = copy_derived_inputs(store, source)     # its mask, an Enhance's start
        model = copy_media_file(store, source.model_path, "models") if source.model_path \
            else None       # a fast model's job (or a training that adds styles) keeps its own
    except OSError as exc:
        raise HTTPException(409, "the files of this job are gone, so it cannot run again") \
            from exc
    # the copies are the same pictures: link them to the source's library styles, so a
    # retry counts as a use and "Use this style again" on it still offers the library cards
    library_ids = job_style_ids(session, source.id)
    linked = [i for i in library_ids if i is not None]
    try:
        return enqueue_job(session, owner_id=source.owner_id, kind=source.kind,
                           engine=source.engine, options=dict(source.options),
                           content_path=content, style_paths=styles,
                           style_ids=linked if len(linked) == len(styles) else None,
                           style_shared=job_style_shares(session, source.id),
                           visibility=source.visibility, title=source.title,
                           content_name=source.content_name,
                           style_names=list(source.style_names or []),
                           show_original=source.show_original, model_path=model,
                           with_job=spending(source.owner_id, units), **extras)
    except BaseException:
        session.rollback()
        store.remove([content, *styles, *([model] if model else []),
                      *(p for p in (extras["mask_path"], extras["start_path"]) if p)])
        raise


def retry_failed(session: Session, store: MediaStore, settings: Settings,
                 weights: WeightStore, batch: Batch, owner: str) -> int:
    """Retry every failed photo of ``batch`` that is ``owner``'s; stops at the first
    refusal (the allowance or the cap reached), which is raised when nothing could be
    retried. Returns the count."""
    failed = [p for p in viewer_photos(session, batch, owner) if retryable(p)]
    if not failed:
        raise HTTPException(409, "no photo of this batch failed, so there is nothing to retry")
    done = 0
    for photo in failed:
        source = photo.job
        assert source is not None
        try:
            check_room_in_line(session, source.owner_id, source.engine, source.options,
                               source.frames, settings.max_queued_minutes_per_person)
            job = retry_job(session, store, settings, weights, source)
        except (Refused, HTTPException):
            if not done:
                raise
            break
        point_photo(session, batch, photo.position, job)
        done += 1
    return done
