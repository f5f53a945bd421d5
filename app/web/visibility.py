"""Who may see what of a job.

- The **original photo** (a job's content file) is its owner's: others see it only when the
  owner chose "show my original photo to others" (``Job.show_original``, off by default).
  Its URL is unguessable but appears on the owner's pages, so the media route itself refuses
  it to anyone else (404, as for a file that does not exist).
- A result the **admin hid** leaves the gallery; its pages and files answer only its owner
  and the admin.
- A result its owner **deleted** is gone for everyone else at once, and for good after the
  undo window (:mod:`app.jobs.trash`).
"""

from __future__ import annotations

from typing import Literal

from fastapi import Request
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.jobs.models import Job
from app.web.admin_access import admin_refusal


REMOVED = "This result was removed by the studio's admin."


def viewer_is_admin(request: Request) -> bool:
    """Whether this request may use the admin page (and so moderate)."""
    from app.web.admin import admin_state

    return admin_refusal(request, admin_state(request).key) is None


def removed_for(job: Job, owner_id: str, is_admin: bool) -> bool:
    """Whether the admin hid ``job`` from this visitor."""
    return job.hidden and owner_id != job.owner_id and not is_admin


def _naming_job(session: Session, rel: str) -> tuple[str, bool, bool, bool] | None:
    """(owner, original shown, hidden, deleted) of the job whose content, result, thumbnail
    or poster ``rel`` is; None for any other file (style images, previews, segments)."""
    folder = rel.split("/", 1)[0]
    columns = {"uploads": (Job.content_path,), "results": (Job.result_path,),
               "thumbs": (Job.thumb_path, Job.preview_path)}.get(folder)
    if columns is None:
        return None
    row = session.execute(select(Job.owner_id, Job.show_original, Job.hidden,
                                 Job.deleted_at.is_not(None))
                          .where(or_(*(c == rel for c in columns))).limit(1)).first()
    if row is None:
        return None
    owner, shown, hidden, deleted = row
    # an upload is private only as a job's content: the other uploads are style images
    return owner, bool(shown) or folder != "uploads", bool(hidden), bool(deleted)


Access = Literal["public", "private", "refused"]


def media_access(session: Session, rel: str, owner_id: str, request: Request) -> Access:
    """Whether this visitor may fetch the media file ``rel``: ``public`` (anyone may),
    ``private`` (this visitor may, not everyone: never kept in a shared cache) or
    ``refused`` (see the module docstring)."""
    found = _naming_job(session, rel)
    if found is None:
        return "public"
    owner, shown, hidden, deleted = found
    if shown and not hidden and not deleted:
        return "public"
    if owner == owner_id or (not deleted and viewer_is_admin(request)):
        return "private"
    return "refused"
