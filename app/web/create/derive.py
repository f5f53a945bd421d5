"""Enhance and Go deeper: a new job made from a finished picture, as a version of it.

- **Enhance** runs the same engine and settings again at twice the size (up to
  ``DREAMGEN_MAX_ENHANCE_SIDE``) on the same photo, enlarged; a painterly engine starts from
  the earlier result, enlarged (:mod:`app.jobs.derived_inputs`).
- **Go deeper** (Deep Dream) dreams again on the result itself, with the same settings.

The new job gets copies of the files it needs (deleting either job leaves the other whole),
its mask too, and names its parent (``parent_id``, ``derivation``); its options record what
it was made from (``derived``: the parent's id, how, the parent's longer side).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.db.models import Job, JobState
from app.engine.enlarge import enhanced_side
from app.engine.weights.store import WeightStore
from app.jobs.costs import check_room_in_line
from app.jobs.derived_inputs import DEEPER, ENHANCE
from app.jobs.queue import enqueue_job
from app.people.allowances import check_allowance, job_cost, spending
from app.people.copies import copy_media_file
from app.people.styles import job_style_ids, job_style_shares
from app.refusals import Refused
from app.settings import Settings
from app.storage import MediaStore
from app.uploads.storing import check_free_disk
from app.web.create.submit import installed_engine
from app.web.visibility import refuse_hidden_reuse

NAMES = {ENHANCE: "Enhance", DEEPER: "Go deeper"}


def check_derivable(source: Job, derivation: str) -> None:
    """Refuse, with the reason, a job that cannot be enhanced or dreamed deeper (409)."""
    what = NAMES[derivation]
    if source.kind != "image":
        raise Refused(f"{what} works on pictures, and this is a clip", 409)
    if source.state in (JobState.QUEUED, JobState.RUNNING):
        raise Refused(f"this picture is still {source.state}; {what} works once it is "
                      "finished", 409)
    if source.state != JobState.SUCCEEDED or not source.result_path:
        ended = "was cancelled" if source.state == JobState.CANCELLED else "failed"
        raise Refused(f"this job {ended} and made no picture, so there is nothing to "
                      f"{what.lower()}", 409)


def new_options(source: Job, derivation: str, settings: Settings) -> dict[str, Any]:
    """The derived job's options: the source's, at twice the size for an Enhance (refused
    at the studio's limit), with a record of what it was made from."""
    width, height = source.width or 0, source.height or 0
    options = dict(source.options or {})
    options.pop("derived", None)
    if derivation == ENHANCE:
        side = enhanced_side(width, height, settings.max_enhance_side)
        if side is None:
            raise Refused(f"this picture is {width}x{height}, already at this studio's "
                          f"limit of {settings.max_enhance_side} px for Enhance", 409)
        options["size"] = side
    options["derived"] = {"from": source.public_id, "as": derivation,
                          "side": max(width, height)}
    return options


def derive_job(session: Session, store: MediaStore, settings: Settings, weights: WeightStore,
               source: Job, derivation: str) -> Job:
    """Queue the Enhance (``"enhance"``) or Go deeper (``"deeper"``) of ``source`` for its
    owner; raises :class:`Refused` with the reason when it cannot be made."""
    check_derivable(source, derivation)
    spec = installed_engine(source.engine, weights)
    if derivation == DEEPER and spec.mode != "dream":
        raise Refused("Go deeper is for Deep Dream results; use Enhance for a larger "
                      "version", 409)
    refuse_hidden_reuse(session, source, source.owner_id)
    options = new_options(source, derivation, settings)
    units = job_cost(spec.name, options)
    check_allowance(session, source.owner_id, units)
    check_free_disk(store, settings)
    check_room_in_line(session, source.owner_id, spec.name, options, 1,
                       settings.max_queued_minutes_per_person)
    made: list[str] = []
    try:
        files = _copies(store, source, derivation, spec.refines_result, made)
        library_ids = [i for i in job_style_ids(session, source.id) if i is not None]
        return enqueue_job(
            session, owner_id=source.owner_id, kind="image", engine=source.engine,
            options=options, content_path=files["content"], style_paths=files["styles"],
            style_ids=library_ids if len(library_ids) == len(files["styles"]) else None,
            style_shared=job_style_shares(session, source.id), visibility=source.visibility,
            title=source.title, content_name=source.content_name,
            style_names=list(source.style_names or []), show_original=source.show_original,
            mask_path=files["mask"], start_path=files["start"], parent_id=source.id,
            derivation=derivation, with_job=spending(source.owner_id, units))
    except OSError:
        session.rollback()
        store.remove(made)
        raise Refused("the files of this picture are gone, so no new version can be "
                      "made of it", 409) from None
    except BaseException:
        session.rollback()
        store.remove(made)
        raise


def _copies(store: MediaStore, source: Job, derivation: str, refines: bool,
            made: list[str]) -> dict[str, Any]:
    """Copies of what the new job runs on, each appended to ``made`` as it is written: the
    photo (Enhance) or the result (Go deeper) as its content, the styles, the mask, and
    the result to start from (an Enhance of a painterly result)."""
    def copy(rel: str | None) -> str | None:
        if rel is None:
            return None
        made.append(copy_media_file(store, rel))
        return made[-1]

    content = copy(source.content_path if derivation == ENHANCE else source.result_path)
    styles = [copy(rel) for rel in source.style_paths]
    return {"content": content, "styles": styles, "mask": copy(source.mask_path),
            "start": copy(source.result_path) if derivation == ENHANCE and refines else None}
