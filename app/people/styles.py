"""The style library: every distinct style image (by the SHA-256 of its stored bytes), which
jobs used it, and which are listed.

A style enters the library when a job is queued with it (:func:`register_styles`, in the
same transaction as the job row: :func:`app.jobs.queue.enqueue_job` writes ``job_styles``),
or when the admin adds one (``curated``). The library keeps its own copy of the file and a
thumbnail under ``styles/`` (the job keeps its own copy too), so deleting a job never breaks
the library nor another job. A style is *listed* when it is not hidden and is curated or used
by at least one finished, public, visible result of a style engine that *offered* it
(``job_styles.shared``: its owner ticked "add my style images to the public style library",
or picked it from the library while it was listed). A Deep Dream guide is no style;
unlisted, private, hidden and deleted results and uploads nobody offered do not count: a
person's upload never enters the library without their word. Once no job uses an
uncurated style any more it leaves the library, files and all (:func:`prune_unused_styles`):
deleting one's result takes one's upload with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image
from sqlalchemy import and_, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from app.db.engine import begin_write
from app.db.models import Job, JobState, JobStyle, StyleImage
from app.engine.registry import ENGINES
from app.jobs.thumbnails import write_thumbnail
from app.people.copies import copy_media_file
from app.storage import MediaStore, sha256_file

LIBRARY_FOLDER = "styles"
DREAM_ENGINES = tuple(spec.name for spec in ENGINES if spec.mode == "dream")


@dataclass(frozen=True)
class ListedStyle:
    """A style as the library shows it: the row and how many public results used it."""

    style: StyleImage
    uses: int


class StyleUnavailable(LookupError):
    """A ``style_id`` that cannot be used, with the reason in words."""


def _public_use():
    """The condition on ``jobs`` and ``job_styles`` for a use the library counts."""
    return and_(JobStyle.shared.is_(True), Job.state == JobState.SUCCEEDED,
                Job.visibility == "public", Job.hidden.is_(False), Job.deleted_at.is_(None),
                Job.engine.not_in(DREAM_ENGINES))


def _add_to_library(session: Session, store: MediaStore, rel: str, sha256: str,
                    made: list[str], curated: bool, title: str | None) -> StyleImage:
    """A new library row with its own copy of ``rel`` and a thumbnail (paths go to
    ``made`` so a caller can remove them if the transaction fails)."""
    copy = copy_media_file(store, rel, LIBRARY_FOLDER)
    made.append(copy)
    with Image.open(store.path(copy)) as image:
        thumb = write_thumbnail(store, image, store.new_path(LIBRARY_FOLDER, ".jpg"))
    made.append(thumb)
    style = StyleImage(sha256=sha256, path=copy, thumb_path=thumb, curated=curated,
                       hidden=False, title=title)
    session.add(style)
    session.flush()
    return style


def register_styles(session: Session, store: MediaStore, rels: list[str], made: list[str],
                    curated: bool = False, title: str | None = None) -> list[int]:
    """The library ids of the stored style files ``rels`` (in order), adding the ones it does
    not have yet. Flushes, never commits: the caller's commit (the job row) makes them
    permanent. New library files are appended to ``made``. A curated add also makes a hidden
    style visible again."""
    ids: list[int] = []
    for rel in rels:
        sha256 = sha256_file(store.path(rel))
        style = session.scalar(select(StyleImage).where(StyleImage.sha256 == sha256))
        if style is None:
            style = _add_to_library(session, store, rel, sha256, made, curated, title)
        elif curated:
            style.curated, style.hidden = True, False
            style.title = title or style.title
            session.flush()
        ids.append(style.id)
    return ids


def listed_styles(session: Session, page: int = 1, per_page: int = 48
                  ) -> tuple[list[ListedStyle], int]:
    """One page of the listed styles, most used first (then curated, then newest), and how
    many there are."""
    uses = func.count(func.distinct(Job.id))
    query = (select(StyleImage, uses.label("uses"))
             .outerjoin(JobStyle, JobStyle.style_id == StyleImage.id)
             .outerjoin(Job, and_(Job.id == JobStyle.job_id, _public_use()))
             .where(StyleImage.hidden.is_(False))
             .group_by(StyleImage.id)
             .having(or_(uses > 0, StyleImage.curated.is_(True))))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(uses.desc(), StyleImage.curated.desc(),
                                          StyleImage.id.desc())
                           .offset((max(1, page) - 1) * per_page).limit(per_page)).all()
    return [ListedStyle(style, int(count)) for style, count in rows], int(total)


def hidden_styles(session: Session) -> list[StyleImage]:
    """Every hidden style, newest first (only the admin sees these)."""
    return list(session.scalars(select(StyleImage).where(StyleImage.hidden.is_(True))
                                .order_by(StyleImage.id.desc())).all())


def is_listed(session: Session, style: StyleImage) -> bool:
    """Whether the library lists ``style`` (hidden or not: see :func:`usable_style`)."""
    if style.curated:
        return True
    used = (select(JobStyle.job_id).join(Job, Job.id == JobStyle.job_id)
            .where(JobStyle.style_id == style.id, _public_use()).limit(1))
    return session.scalar(used) is not None


def _used_by(session: Session, style: StyleImage, owner_id: str) -> bool:
    mine = (select(JobStyle.job_id).join(Job, Job.id == JobStyle.job_id)
            .where(JobStyle.style_id == style.id, Job.owner_id == owner_id).limit(1))
    return session.scalar(mine) is not None


def usable_style(session: Session, style_id: int, owner_id: str) -> StyleImage:
    """The style ``style_id`` if this visitor may paint with it: listed, or used by one of
    their own jobs (reusing a private upload). Raises :class:`StyleUnavailable` otherwise,
    without telling a stranger that an unlisted style exists."""
    style = session.get(StyleImage, style_id)
    if style is None or not (is_listed(session, style) or _used_by(session, style, owner_id)):
        raise StyleUnavailable(f"there is no style {style_id} in the library")
    if style.hidden:
        raise StyleUnavailable(f"style {style_id} was taken out of the library by its admin")
    return style


def job_style_ids(session: Session, job_id: int) -> list[int | None]:
    """The library id of each of a job's styles, by position (None where unknown: jobs
    from before the library)."""
    rows = session.execute(select(JobStyle.position, JobStyle.style_id)
                           .where(JobStyle.job_id == job_id)).all()
    by_position = dict(rows)
    count = max(by_position, default=-1) + 1
    return [by_position.get(i) for i in range(count)]


def job_style_shares(session: Session, job_id: int) -> list[bool]:
    """Whether the job offered each of its styles to the library, by position (False where
    unknown)."""
    rows = dict(session.execute(select(JobStyle.position, JobStyle.shared)
                                .where(JobStyle.job_id == job_id)).all())
    return [bool(rows.get(i)) for i in range(max(rows, default=-1) + 1)]


def link_styles(session: Session, job: Job, style_ids: list[int],
                shared: list[bool] | None = None) -> None:
    """Add ``job_styles`` rows for ``job``, each offered to the library or not (``shared``,
    by position; default: none is). Flushed; the caller commits."""
    offered = list(shared or []) + [False] * (len(style_ids) - len(shared or []))
    session.add_all(JobStyle(job_id=job.id, position=i, style_id=sid, shared=offered[i])
                    for i, sid in enumerate(style_ids))


def set_hidden(session: Session, style_id: int, hidden: bool) -> StyleImage | None:
    """Hide or show a style (the admin); None when there is no such style."""
    begin_write(session)
    style = session.get(StyleImage, style_id)
    if style is not None:
        style.hidden = hidden
    session.commit()                 # also when there is none: frees the write lock
    return style


def prune_unused_styles(session: Session) -> list[str]:
    """Remove the uncurated styles no job uses any more; commits and returns their files
    for the caller to delete."""
    begin_write(session)
    unused = (StyleImage.curated.is_(False),
              ~exists().where(JobStyle.style_id == StyleImage.id))
    rows = session.execute(select(StyleImage.id, StyleImage.path, StyleImage.thumb_path)
                           .where(*unused)).all()
    if not rows:
        session.commit()             # ends the write transaction begun above: frees the lock
        return []
    session.execute(delete(StyleImage).where(StyleImage.id.in_([r[0] for r in rows]), *unused)
                    .execution_options(synchronize_session=False))
    session.commit()
    return [p for _, path, thumb in rows for p in (path, thumb) if p]
