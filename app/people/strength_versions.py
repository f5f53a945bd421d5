"""A saved version: a finished fast-engine picture at another style strength, rendered in a
child (:mod:`app.jobs.strength_render`), stored as a result of its own. The new job gets
copies of the inputs and of the state, so its slider works too, and deleting either job
leaves the other whole."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from app.db.models import Job, utcnow
from app.jobs.queue import add_finished_job
from app.jobs.strength_render import RenderedVersion
from app.people.copies import copy_inputs, copy_media_file
from app.storage import MediaStore


def save_version(session: Session, store: MediaStore, job: Job, alpha: float,
                 rendered: RenderedVersion) -> Job:
    """Store ``rendered`` as a new finished job of ``job``'s owner, with copies of its
    inputs and state and its options at strength ``alpha``. Nothing is left on failure."""
    written: list[str] = []
    try:
        result = store.new_result_path(".png")
        store.write_atomic(result, rendered.png)
        written.append(result)
        thumb = store.new_path("thumbs", ".jpg")
        store.write_atomic(thumb, rendered.thumb)
        written.append(thumb)
        strength = copy_media_file(store, job.strength_path or "", "results")
        written.append(strength)
        content, styles = copy_inputs(store, job)
        written += [content, *styles]
        return add_finished_job(
            session, owner_id=job.owner_id, kind=job.kind, engine=job.engine,
            options={**job.options, "alpha": alpha}, content_path=content, style_paths=styles,
            result_path=result, thumb_path=thumb, strength_path=strength,
            width=rendered.width, height=rendered.height, visibility=job.visibility,
            title=job.title, content_name=job.content_name, style_names=job.style_names,
            show_original=job.show_original,
            started_at=utcnow() - timedelta(seconds=rendered.seconds))
    except BaseException:
        store.remove(written)
        raise
