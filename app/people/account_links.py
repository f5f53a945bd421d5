"""The admin's one-time links (no mail server assumed: the admin hands them over): an
**invite** lets one person sign up while sign-up is by invitation, a **reset** lets an
account's owner choose a new password. Each is 192 random bits, shown once; only its
SHA-256 is stored; it works once, and only until it expires. Making a reset link retires
the account's earlier ones.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.db.base import utcnow
from app.db.community import Account, AccountToken
from app.db.engine import begin_write
from app.people.account_sessions import token_hash
from app.refusals import Refused

INVITE_DAYS = 14
RESET_HOURS = 48
BAD_INVITE = ("that invite link does not work: it was used already, it expired, or it was "
              "mistyped; ask the studio's admin for a new one")
BAD_RESET = ("that password link does not work: it was used already, it expired, or it "
             "was mistyped; ask the studio's admin for a new one")


def _new_token(session: Session, kind: str, account_id: int | None,
               lasts: timedelta) -> str:
    token = secrets.token_urlsafe(24)
    now = utcnow()
    begin_write(session)
    session.add(AccountToken(token_hash=token_hash(token), kind=kind, account_id=account_id,
                             created_at=now, expires_at=now + lasts))
    session.commit()
    return token


def new_invite(session: Session) -> str:
    """A fresh invite (lasts :data:`INVITE_DAYS`)."""
    return _new_token(session, "invite", None, timedelta(days=INVITE_DAYS))


def new_reset(session: Session, account: Account) -> str:
    """A fresh password link for ``account`` (lasts :data:`RESET_HOURS`); earlier unused
    ones stop working."""
    begin_write(session)
    session.execute(delete(AccountToken).where(AccountToken.account_id == account.id,
                                               AccountToken.kind == "reset"))
    return _new_token(session, "reset", account.id, timedelta(hours=RESET_HOURS))


def use_token(session: Session, token: str, kind: str) -> AccountToken:
    """Spend the one-time ``token`` of ``kind`` inside the caller's write transaction (the
    caller commits with what it did); :class:`Refused` (403) when it is unknown, spent or
    expired. A single conditional UPDATE, so two uses at once cannot both succeed."""
    refusal = BAD_INVITE if kind == "invite" else BAD_RESET
    if not token or len(token) > 100:
        raise Refused(refusal, 403)
    begin_write(session)
    now, hashed = utcnow(), token_hash(token.strip())
    spent = session.execute(update(AccountToken)
                            .where(AccountToken.token_hash == hashed, AccountToken.kind == kind,
                                   AccountToken.used_at.is_(None),
                                   AccountToken.expires_at > now)
                            .values(used_at=now)
                            .execution_options(synchronize_session=False)).rowcount
    if not spent:
        session.rollback()
        raise Refused(refusal, 403)
    row = session.scalar(select(AccountToken).where(AccountToken.token_hash == hashed))
    assert row is not None
    return row
