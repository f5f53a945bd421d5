"""A result's versions: the jobs made from one another by Enhance and Go deeper
(``jobs.parent_id``), found from any of them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Job

MAX_VERSIONS = 50      # a family this large is cut short on the page


def root_of(session: Session, job: Job) -> Job:
    """The first job of ``job``'s family (the one made from a photo)."""
    seen = {job.id}
    while job.parent_id is not None:
        parent = session.get(Job, job.parent_id)
        if parent is None or parent.id in seen:
            break
        seen.add(parent.id)
        job = parent
    return job


def versions_of(session: Session, job: Job) -> list[Job]:
    """``job``'s family, oldest first: its first job and every job derived from it, at
    most :data:`MAX_VERSIONS`, without the deleted ones."""
    root = root_of(session, job)
    family, frontier = [root], [root.id]
    while frontier and len(family) < MAX_VERSIONS:
        children = session.scalars(select(Job).where(Job.parent_id.in_(frontier))
                                   .order_by(Job.id)).all()
        family += children
        frontier = [c.id for c in children]
    return sorted((j for j in family[:MAX_VERSIONS] if j.deleted_at is None),
                  key=lambda j: j.id)
