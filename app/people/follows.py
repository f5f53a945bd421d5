"""Following: an account follows another to see its new public results in the Following
feed (:mod:`app.people.feeds`). Nobody follows themselves; following twice changes nothing."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.base import utcnow
from app.db.community import Account, Follow
from app.db.engine import begin_write
from app.refusals import Refused


def follow(session: Session, follower_id: int, followee: Account) -> None:
    """``follower_id`` follows ``followee`` (409: oneself)."""
    if follower_id == followee.id:
        raise Refused("you cannot follow yourself", 409)
    begin_write(session)
    if session.get(Follow, (follower_id, followee.id)) is None:
        session.add(Follow(follower_id=follower_id, followee_id=followee.id,
                           created_at=utcnow()))
    try:
        session.commit()
    except IntegrityError:             # the same follow at the same moment
        session.rollback()


def unfollow(session: Session, follower_id: int, followee: Account) -> None:
    begin_write(session)
    session.execute(delete(Follow).where(Follow.follower_id == follower_id,
                                         Follow.followee_id == followee.id))
    session.commit()


def follows(session: Session, follower_id: int | None, followee_id: int) -> bool:
    if follower_id is None:
        return False
    return session.get(Follow, (follower_id, followee_id)) is not None


def follower_count(session: Session, account_id: int) -> int:
    """Followers of the account (disabled ones not counted)."""
    return int(session.scalar(
        select(func.count()).select_from(Follow).join(Account, Account.id == Follow.follower_id)
        .where(Follow.followee_id == account_id, Account.disabled_at.is_(None))) or 0)


def following_count(session: Session, account_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(Follow)
                              .where(Follow.follower_id == account_id)) or 0)


def followed_owner_ids(session: Session, account_id: int) -> list[str]:
    """The owner ids of the enabled accounts ``account_id`` follows."""
    return list(session.scalars(
        select(Account.owner_id).join(Follow, Follow.followee_id == Account.id)
        .where(Follow.follower_id == account_id, Account.disabled_at.is_(None))))
