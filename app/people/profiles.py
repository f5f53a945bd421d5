"""Profiles (``/u/<name>``): a display name, a bio and an avatar an account chooses, and
what others see of it: its public results, the likes they received, its followers.

The avatar is an upload like any other: checked by its bytes in a child process
(:func:`app.uploads.storing.store_uploads`), then cut to a :data:`AVATAR_SIDE` px square
and re-encoded as PNG under ``avatars/`` (no metadata survives either step). A disabled
account has no profile for anyone but the admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageOps
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.community import Account
from app.db.engine import begin_write
from app.db.models import Job, as_utc
from app.people.feeds import public_results
from app.people.follows import follower_count, following_count
from app.people.social import likes_received, plain_text
from app.settings import Settings
from app.storage import MediaStore
from app.uploads.storing import store_uploads

MAX_DISPLAY_NAME = 60
MAX_BIO = 500
AVATAR_SIDE = 256


@dataclass(frozen=True)
class Profile:
    """What a profile page and ``GET /api/users/{name}`` show."""

    username: str
    display_name: str
    bio: str
    has_avatar: bool
    joined: datetime
    results: int
    likes_received: int
    followers: int
    following: int
    disabled: bool


def profile_of(session: Session, account: Account) -> Profile:
    results = session.scalar(select(func.count()).select_from(Job)
                             .where(*public_results(), Job.owner_id == account.owner_id))
    return Profile(account.username, account.display_name or account.username, account.bio,
                   account.avatar_path is not None, as_utc(account.created_at) or datetime.min,
                   int(results or 0), likes_received(session, account.owner_id),
                   follower_count(session, account.id), following_count(session, account.id),
                   account.disabled_at is not None)


def update_profile(session: Session, account: Account, display_name: str | None = None,
                   bio: str | None = None) -> None:
    """Change the display name (blank: the username) and the bio (plain text)."""
    begin_write(session)
    if display_name is not None:
        name = plain_text(display_name.replace("\n", " "), MAX_DISPLAY_NAME,
                          "the display name", required=False)
        account.display_name = name or None
    if bio is not None:
        account.bio = plain_text(bio, MAX_BIO, "the bio", required=False)
    session.commit()


def _square(source: Path, target: Path) -> None:
    with Image.open(source) as image:
        fitted = ImageOps.fit(image.convert("RGB"), (AVATAR_SIDE, AVATAR_SIDE))
    fitted.save(target, "PNG")


def set_avatar(session: Session, store: MediaStore, settings: Settings, account: Account,
               raw: Path) -> None:
    """Make the uploaded file ``raw`` the avatar (refused like any bad upload: 413, 415,
    422); the previous avatar's file goes."""
    stored = store_uploads(store, settings, [(raw, "style", "the picture")], AVATAR_SIDE)
    checked = stored[0].rel
    try:
        rel = store.new_path("avatars", ".png")
        store.write_atomic(rel, lambda temp: _square(store.path(checked), temp))
    finally:
        store.remove([checked])
    _replace_avatar(session, store, account, rel)


def remove_avatar(session: Session, store: MediaStore, account: Account) -> None:
    _replace_avatar(session, store, account, None)


def _replace_avatar(session: Session, store: MediaStore, account: Account,
                    rel: str | None) -> None:
    """Point the account at its new avatar file (None: none), then remove the old file."""
    previous = account.avatar_path
    begin_write(session)
    account.avatar_path = rel
    session.commit()
    if previous:
        store.remove([previous])
