"""Who may see what of a job.

- The **original photo** (a job's content file) is its owner's: others see it only when the
  owner chose "show my original photo to others" (``Job.show_original``, off by default).
  Its URL is unguessable but appears on the owner's pages, so the media route itself refuses
  it to anyone else (404, as for a file that does not exist).
- A result the **admin hid** is hidden everywhere until the admin shows it again: it leaves
  the gallery; its pages answer its owner (saying so) and the admin, and 410 to anyone
  else; every file of it — result, thumbnail, live preview, a clip's partial, style images,
  original — answers the admin alone (its owner included: 404); and nothing can make it
  public again: retry, "edit and retry" (``from`` / ``content_from``), "save this version",
  the strength preview and reusing its styles (``style_from``) are refused (409, or 410 to
  whoever is not its owner).
- A **style the admin hid** leaves the library: its library files and the copies in the
  jobs that used it answer the admin alone, and nothing paints with it (``style_id``,
  ``style_from``, retry, "edit and retry", a new version).
- A result its owner **deleted** is gone for everyone else at once, and for good after the
  undo window (:mod:`app.people.trash`).

Files nobody links to (a clip's segments, superseded previews, anything unknown) are
refused to everyone. A job's style images are served by the job
(``/jobs/{id}/styles/{n}``), which knows whose and which library style they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fastapi import HTTPException
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.db.models import Job, StyleImage
from app.people.styles import job_style_ids

REMOVED = "This result was removed by the studio's admin."
HIDDEN_REUSE = ("the studio's admin hid this result: it cannot be run again, edited, saved "
                "as a new version or reused until the admin shows it again")
HIDDEN_STYLE_REUSE = ("one of its styles was taken out of the library by the studio's admin, "
                      "so it cannot be used again; choose another style")
Access = Literal["public", "private", "refused"]
# which columns of ``jobs`` name the files of each media folder
JOB_FILE_COLUMNS = {"uploads": (Job.content_path,), "results": (Job.result_path,),
                    "thumbs": (Job.thumb_path, Job.preview_path),
                    "previews": (Job.preview_path,), "segments": (Job.partial_path,)}


def removed_for(job: Job, owner_id: str, is_admin: bool) -> bool:
    """Whether the admin hid ``job`` from this visitor's pages (its owner still sees its
    page, saying so)."""
    return job.hidden and owner_id != job.owner_id and not is_admin


@dataclass(frozen=True)
class FileOf:
    """Whose a media file is, as far as who may see it goes."""

    owner: str | None          # None: the style library's
    public: bool               # anyone may see it (not an original kept private)
    hidden: bool               # the admin hid its job or its library style
    deleted: bool              # its owner deleted its job


def _file_of(session: Session, rel: str) -> FileOf | None:
    """What names the media file ``rel``: a job's content, result, thumbnail, preview or
    partial clip, or a library style; None for anything else."""
    folder = rel.split("/", 1)[0]
    if folder == "styles":
        hidden = session.scalar(select(StyleImage.hidden).where(
            or_(StyleImage.path == rel, StyleImage.thumb_path == rel)).limit(1))
        return None if hidden is None else FileOf(None, True, bool(hidden), False)
    columns = JOB_FILE_COLUMNS.get(folder)
    if columns is None:
        return None
    row = session.execute(select(Job.owner_id, Job.show_original, Job.hidden,
                                 Job.deleted_at.is_not(None))
                          .where(or_(*(c == rel for c in columns))).limit(1)).first()
    if row is None:
        return None
    owner, shown, hidden, deleted = row
    # an upload is private as a job's content (its style images are served by the job)
    return FileOf(owner, bool(shown) or folder != "uploads", bool(hidden), bool(deleted))


def file_access(found: FileOf, owner_id: str, is_admin: bool) -> Access:
    """Whether this visitor may fetch a file: ``public`` (anyone may), ``private`` (this
    visitor may, not everyone: never kept in a shared cache) or ``refused``."""
    if found.public and not found.hidden and not found.deleted:
        return "public"
    if found.deleted:
        return "private" if found.owner == owner_id and not found.hidden else "refused"
    if found.hidden:
        return "private" if is_admin else "refused"
    return "private" if found.owner == owner_id or is_admin else "refused"


def media_access(session: Session, rel: str, owner_id: str, is_admin: bool) -> Access:
    """Whether this visitor may fetch the media file ``rel`` (see the module docstring)."""
    found = _file_of(session, rel)
    return "refused" if found is None else file_access(found, owner_id, is_admin)


def hidden_style_ids(session: Session, job: Job) -> set[int]:
    """The positions of ``job``'s styles whose library style the admin hid."""
    ids = job_style_ids(session, job.id)
    known = [i for i in ids if i is not None]
    if not known:
        return set()
    hidden = set(session.scalars(select(StyleImage.id).where(StyleImage.id.in_(known),
                                                             StyleImage.hidden.is_(True))))
    return {position for position, sid in enumerate(ids) if sid in hidden}


def style_file_access(session: Session, job: Job, position: int, owner_id: str,
                      is_admin: bool) -> Access:
    """Whether this visitor may fetch ``job``'s style image number ``position``."""
    hidden = job.hidden or position in hidden_style_ids(session, job)
    found = FileOf(job.owner_id, True, hidden, job.deleted_at is not None)
    return file_access(found, owner_id, is_admin)


def reuse_refusal(session: Session, job: Job, owner_id: str) -> tuple[int, str] | None:
    """Why nothing new may be made from ``job`` (retry, edit, a version, its styles) —
    the admin hid it or one of its library styles — as (status, reason); None: it may."""
    if job.hidden:
        return (409, HIDDEN_REUSE) if job.owner_id == owner_id else (410, REMOVED)
    if hidden_style_ids(session, job):
        return 409, HIDDEN_STYLE_REUSE
    return None


def refuse_hidden_reuse(session: Session, job: Job, owner_id: str) -> None:
    """:func:`reuse_refusal` as an HTTP error."""
    refusal = reuse_refusal(session, job, owner_id)
    if refusal is not None:
        raise HTTPException(*refusal)
