"""Sign-ins kept in the database: a session id is 256 random bits given to the browser in
its cookie; only its SHA-256 is stored (a copy of the table signs nobody in). A sign-in
always makes a new id and ends the one the browser brought (no fixation: an id is never
taken from a browser, only handed to one). Changing the password, deleting or disabling the
account ends every session of it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.db.base import utcnow
from app.db.community import Account, AccountSession
from app.db.engine import begin_write

MAX_TOKEN = 128


@dataclass(frozen=True)
class SignedIn:
    """Who a request's session belongs to (what the web layer keeps per request)."""

    account_id: int
    username: str
    owner_id: str


def token_hash(token: str) -> str:
    """What is stored of a session id or a one-time link's token."""
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, account: Account, days: int,
                  previous: str | None = None) -> str:
    """A new session id for ``account`` lasting ``days``, ending ``previous`` (the id the
    browser brought, whoever's it was) and ``account``'s expired ones. Commits."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    begin_write(session)
    if previous:
        session.execute(delete(AccountSession)
                        .where(AccountSession.token_hash == token_hash(previous)))
    session.execute(delete(AccountSession).where(AccountSession.account_id == account.id,
                                                 AccountSession.expires_at <= now))
    session.add(AccountSession(token_hash=token_hash(token), account_id=account.id,
                               created_at=now, expires_at=now + timedelta(days=days)))
    session.commit()
    return token


def signed_in(session: Session, token: str) -> SignedIn | None:
    """Whose live session ``token`` is (None: none, expired, or its account is disabled)."""
    if not token or len(token) > MAX_TOKEN:
        return None
    row = session.execute(
        select(Account.id, Account.username, Account.owner_id)
        .join(AccountSession, AccountSession.account_id == Account.id)
        .where(AccountSession.token_hash == token_hash(token),
               AccountSession.expires_at > utcnow(), Account.disabled_at.is_(None))).first()
    return None if row is None else SignedIn(*row)


def end_session(session: Session, token: str) -> None:
    """Sign this session out (nothing when it does not exist)."""
    begin_write(session)
    session.execute(delete(AccountSession).where(AccountSession.token_hash == token_hash(token)))
    session.commit()


def end_all_sessions(session: Session, account_id: int, keep: str | None = None) -> None:
    """End every session of the account but ``keep``, inside the caller's write
    transaction (no commit)."""
    begin_write(session)
    query = delete(AccountSession).where(AccountSession.account_id == account_id)
    if keep:
        query = query.where(AccountSession.token_hash != token_hash(keep))
    session.execute(query)
