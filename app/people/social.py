"""Likes and comments on public results.

Only a public, finished result that nobody hid or deleted takes them (an unlisted one is
its owner's to share, not a place for a crowd). A comment is plain text: stored as typed
(control characters removed, at most :data:`MAX_COMMENT` characters) and escaped wherever
it is shown; its author, the result's owner and the admin may delete it. Comments of a
disabled account and those the admin hid are not shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.base import utcnow
from app.db.community import Account, Comment, Like
from app.db.engine import begin_write
from app.db.models import Job, JobState, as_utc
from app.refusals import Refused

MAX_COMMENT = 500
NOT_PUBLIC = "likes and comments are only for public results"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def is_public_result(job: Job) -> bool:
    """A finished public result nobody hid or deleted."""
    return (job.state == JobState.SUCCEEDED and job.visibility == "public"
            and not job.hidden and job.deleted_at is None)


def require_public(job: Job) -> None:
    """Refuse (409) to like, comment on or report anything but a public result."""
    if not is_public_result(job):
        raise Refused(NOT_PUBLIC, 409)


def plain_text(text: str, limit: int, what: str, required: bool = True) -> str:
    """``text`` as plain text: control and direction-changing characters removed, runs of
    blank lines cut to one, at most ``limit`` characters (422 beyond, or when ``required``
    and empty)."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if required and not text:
        raise Refused(f"{what} is empty")
    if len(text) > limit:
        raise Refused(f"{what} is {len(text)} characters long; the limit is {limit}")
    return text


# ----------------------------------------------------------------------------- likes
def like_count(session: Session, job_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(Like)
                              .where(Like.job_id == job_id)) or 0)


def liked_by(session: Session, job_id: int, account_id: int | None) -> bool:
    """Whether ``account_id`` likes the job (False for nobody)."""
    if account_id is None:
        return False
    return session.get(Like, (job_id, account_id)) is not None


def like(session: Session, account_id: int, job: Job) -> int:
    """``account_id`` likes ``job`` (again: nothing changes); returns its like count."""
    require_public(job)
    begin_write(session)
    if session.get(Like, (job.id, account_id)) is None:
        session.add(Like(job_id=job.id, account_id=account_id, created_at=utcnow()))
        try:
            session.commit()
        except IntegrityError:           # the same like from another tab at the same moment
            session.rollback()
    else:
        session.commit()
    return like_count(session, job.id)


def unlike(session: Session, account_id: int, job: Job) -> int:
    """Take the like back (none: nothing changes); returns the like count."""
    begin_write(session)
    session.execute(delete(Like).where(Like.job_id == job.id, Like.account_id == account_id))
    session.commit()
    return like_count(session, job.id)


def likes_received(session: Session, owner_id: str) -> int:
    """Likes on the public results of ``owner_id``."""
    return int(session.scalar(
        select(func.count()).select_from(Like).join(Job, Job.id == Like.job_id)
        .where(Job.owner_id == owner_id, Job.visibility == "public", Job.hidden.is_(False),
               Job.deleted_at.is_(None))) or 0)


# ----------------------------------------------------------------------------- comments
@dataclass(frozen=True)
class CommentView:
    """A comment as shown: its author's name and display name with it."""

    id: str
    text: str
    author: str
    author_name: str
    created_at: datetime
    author_id: int


def add_comment(session: Session, account_id: int, job: Job, text: str) -> CommentView:
    """A new comment by ``account_id`` on the public result ``job``."""
    require_public(job)
    text = plain_text(text, MAX_COMMENT, "the comment")
    begin_write(session)
    comment = Comment(job_id=job.id, account_id=account_id, text=text, created_at=utcnow())
    session.add(comment)
    session.commit()
    account = session.get(Account, account_id)
    assert account is not None
    return CommentView(comment.public_id, text, account.username,
                       account.display_name or account.username,
                       as_utc(comment.created_at) or utcnow(), account_id)


def _shown(job_id: int) -> tuple[Any, ...]:
    """The comments of a result that are shown: not hidden, not a disabled account's."""
    return (Comment.job_id == job_id, Comment.hidden.is_(False), Account.disabled_at.is_(None))


def shown_comments(session: Session, job_id: int, page: int = 1,
                   per_page: int = 50) -> tuple[list[CommentView], int]:
    """One page of a result's comments, oldest first, and how many are shown."""
    rows = session.execute(select(Comment, Account)
                           .join(Account, Account.id == Comment.account_id)
                           .where(*_shown(job_id)).order_by(Comment.id)
                           .offset((max(1, page) - 1) * per_page).limit(per_page)).all()
    return [CommentView(c.public_id, c.text, a.username, a.display_name or a.username,
                        as_utc(c.created_at) or utcnow(), a.id) for c, a in rows], \
        comment_count(session, job_id)


def comment_count(session: Session, job_id: int) -> int:
    """How many of a result's comments are shown."""
    return int(session.scalar(select(func.count()).select_from(Comment)
                              .join(Account, Account.id == Comment.account_id)
                              .where(*_shown(job_id))) or 0)


def find_comment(session: Session, public_id: str) -> Comment | None:
    return session.scalar(select(Comment).where(Comment.public_id == public_id))


def may_delete_comment(comment: Comment, job: Job, account_id: int | None, owner_id: str,
                       is_admin: bool) -> bool:
    """Its author, the result's owner and the admin may delete a comment."""
    return is_admin or job.owner_id == owner_id or \
        (account_id is not None and comment.account_id == account_id)


def delete_comment(session: Session, comment: Comment) -> None:
    begin_write(session)
    session.execute(delete(Comment).where(Comment.id == comment.id))
    session.commit()


def set_comment_hidden(session: Session, comment: Comment, hidden: bool) -> None:
    begin_write(session)
    comment.hidden = hidden
    session.commit()


def job_author(session: Session, job: Job) -> tuple[str, str] | None:
    """The name and display name of the enabled account that made ``job`` (None: an
    anonymous browser's, or a disabled account's)."""
    row = session.execute(select(Account.username, Account.display_name)
                          .where(Account.owner_id == job.owner_id,
                                 Account.disabled_at.is_(None))).first()
    return None if row is None else (row[0], row[1] or row[0])
