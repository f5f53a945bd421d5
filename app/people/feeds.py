"""The gallery's feeds: **Newest**, **Trending** and **Following**, and a person's public
results on their profile.

Every list is read *as of* a moment (``as_of``, the first page's time, carried by the
links to the next pages): a result that finishes, or a like given, after that moment does
not enter the list, so paging on never shows a result twice or skips one while new ones
arrive. Page 1 without ``as_of`` is now.

Trending ranks the public results liked in the :data:`TRENDING_DAYS` days before
``as_of`` by ``likes / (hours since the result was made + 2) ** 1.5`` (the likes counted are
those of that window): a like counts for more the newer the result, so a result needs ever
more likes to stay up as it ages, and one liked a week ago no longer counts at all. Ties go
to the newer result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.base import utcnow
from app.db.community import Like
from app.db.models import Job, JobState, as_utc
from app.people.follows import followed_owner_ids

Tab = Literal["newest", "trending", "following"]
TABS: tuple[Tab, ...] = ("newest", "trending", "following")
TRENDING_DAYS = 7
GRAVITY = 1.5
HOURS_OFFSET = 2.0


@dataclass(frozen=True)
class FeedPage:
    """One page of a feed: its jobs, how many the whole list holds, and the moment it is
    read as of (the links to other pages carry it)."""

    jobs: list[Job]
    total: int
    as_of: datetime


def as_of_moment(millis: int | None) -> datetime:
    """The moment a list is read as of: ``millis`` (milliseconds since 1970, UTC), never
    later than now; now when None."""
    now = utcnow()
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)   # what the links carry
    if millis is None:
        return now
    try:
        moment = datetime.fromtimestamp(millis / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return now
    return min(moment, now)


def as_of_millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def public_results() -> tuple[Any, ...]:
    """What puts a job in a public list: finished, public, not hidden, not deleted, and a
    picture or a clip (a training's model is no picture: a shared one is in the style
    library)."""
    return (Job.state == JobState.SUCCEEDED, Job.visibility == "public",
            Job.hidden.is_(False), Job.deleted_at.is_(None), Job.kind != "train")


def newest(session: Session, page: int, per_page: int, as_of: datetime,
           owners: list[str] | None = None) -> FeedPage:
    """Public results finished by ``as_of``, newest first (only ``owners``' when given)."""
    where = [*public_results(), Job.finished_at <= as_of]
    if owners is not None:
        where.append(Job.owner_id.in_(owners))
    total = session.scalar(select(func.count()).select_from(Job).where(*where)) or 0
    jobs = session.scalars(select(Job).where(*where)
                           .order_by(Job.finished_at.desc(), Job.id.desc())
                           .offset((max(1, page) - 1) * per_page).limit(per_page)).all()
    return FeedPage(list(jobs), int(total), as_of)


def trending_score(likes: int, age_hours: float) -> float:
    """``likes / (age_hours + 2) ** 1.5`` (see the module docstring)."""
    return likes / (max(0.0, age_hours) + HOURS_OFFSET) ** GRAVITY


def trending(session: Session, page: int, per_page: int, as_of: datetime) -> FeedPage:
    """Public results liked in the window before ``as_of``, by :func:`trending_score`."""
    since = as_of - timedelta(days=TRENDING_DAYS)
    rows = session.execute(
        select(Job.id, Job.finished_at, func.count())
        .join(Like, Like.job_id == Job.id)
        .where(*public_results(), Job.finished_at <= as_of, Like.created_at > since,
               Like.created_at <= as_of)
        .group_by(Job.id, Job.finished_at)).all()

    def rank(row: Any) -> tuple[float, int]:
        finished = as_utc(row[1]) or as_of
        return (-trending_score(row[2], (as_of - finished).total_seconds() / 3600), -row[0])

    ranked = [row[0] for row in sorted(rows, key=rank)]
    start = (max(1, page) - 1) * per_page
    ids = ranked[start:start + per_page]
    by_id = {job.id: job for job in session.scalars(select(Job).where(Job.id.in_(ids)))}
    return FeedPage([by_id[i] for i in ids if i in by_id], len(ranked), as_of)


def feed(session: Session, tab: Tab, page: int, per_page: int, as_of: datetime,
         account_id: int | None) -> FeedPage:
    """One page of the gallery's ``tab`` for a visitor (``account_id`` None: not signed in,
    so Following is empty)."""
    if tab == "trending":
        return trending(session, page, per_page, as_of)
    if tab == "following":
        if account_id is None:
            return FeedPage([], 0, as_of)
        return newest(session, page, per_page, as_of, followed_owner_ids(session, account_id))
    return newest(session, page, per_page, as_of)
