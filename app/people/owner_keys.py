"""Carrying one's results to another browser: a private key that stands for an owner id.

There are no accounts: a browser's owner id (its cookie) is what makes its jobs its own. A
key is a separate 192-bit secret made on request; only its SHA-256 is stored, one per owner,
so the key is shown once and making a new one retires the old. A browser that presents a key
takes on that owner id; its own jobs stay under its own id (the web layer keeps that id so
the browser can switch back) unless its person explicitly moves them (:func:`move_jobs`).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.db.engine import begin_write
from app.db.models import Job, OwnerKey, utcnow

KEY_BYTES = 24


def key_hash(key: str) -> str:
    """What is stored of ``key`` (a lookup needs no secret comparison: the hash is the
    index, and it tells nothing of the key)."""
    return hashlib.sha256(key.strip().encode()).hexdigest()


def new_owner_key(session: Session, owner_id: str) -> str:
    """A fresh key for ``owner_id`` (the previous one stops working)."""
    key = secrets.token_urlsafe(KEY_BYTES)
    begin_write(session)
    session.execute(delete(OwnerKey).where(OwnerKey.owner_id == owner_id))
    session.add(OwnerKey(owner_id=owner_id, key_hash=key_hash(key), created_at=utcnow()))
    session.commit()
    return key


def owner_key_made_at(session: Session, owner_id: str) -> datetime | None:
    """When ``owner_id``'s current key was made (None: it has none)."""
    return session.scalar(select(OwnerKey.created_at).where(OwnerKey.owner_id == owner_id))


def forget_owner_key(session: Session, owner_id: str) -> None:
    """Retire ``owner_id``'s key: links made with it stop working."""
    begin_write(session)
    session.execute(delete(OwnerKey).where(OwnerKey.owner_id == owner_id))
    session.commit()


def owner_for_key(session: Session, key: str) -> str | None:
    """The owner id ``key`` stands for (None: no such key)."""
    if not key.strip():
        return None
    return session.scalar(select(OwnerKey.owner_id).where(OwnerKey.key_hash == key_hash(key)))


def move_jobs(session: Session, current_owner: str, key_owner: str) -> int:
    """Move ``current_owner``'s jobs to ``key_owner`` (asked for explicitly: whoever holds
    ``key_owner`` gets them); returns how many moved. ``current_owner``'s own key goes:
    nothing is left to open."""
    if current_owner == key_owner:
        return 0
    begin_write(session)
    moved = session.execute(update(Job).where(Job.owner_id == current_owner)
                            .values(owner_id=key_owner)
                            .execution_options(synchronize_session=False)).rowcount
    session.execute(delete(OwnerKey).where(OwnerKey.owner_id == current_owner))
    session.commit()
    return int(moved or 0)


def count_jobs(session: Session, owner_id: str) -> int:
    """How many jobs (not deleted) ``owner_id`` has."""
    return int(session.scalar(select(func.count()).select_from(Job)
                              .where(Job.owner_id == owner_id, Job.deleted_at.is_(None))) or 0)
