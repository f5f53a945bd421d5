"""The community's tables (revision 0010, :mod:`app.people` holds what they mean):

* ``accounts``: optional accounts. Each has its own ``owner_id``, the id its jobs carry
  exactly as an anonymous browser's jobs carry its cookie's, so everything that asks "whose
  job is this" works the same for both. ``account_sessions`` are its sign-ins (only the
  SHA-256 of a session id is kept), ``account_tokens`` the admin's one-time invite and
  password-reset links (hashed too).
* ``follows``, ``likes``, ``comments`` and ``reports``: people answering each other.
* ``collections`` and ``collection_items``: named albums of results.
* ``work_spent`` and ``daily_allowances``: what each owner spent of their daily allowance,
  and the admin's allowances for anonymous browsers and for accounts.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, utcnow


def new_public_id() -> str:
    """A short URL-safe id for a comment or a collection (96 random bits)."""
    return secrets.token_urlsafe(12)


def new_share_token() -> str:
    """An unguessable share token for a collection (192 random bits)."""
    return secrets.token_urlsafe(24)


class Account(Base):
    """A person's account. ``username`` as they typed it, ``username_key`` lowercased (names
    are unique whatever their case); ``daily_allowance`` None: the studio's allowance for
    accounts; ``hidden_job_ids``: the results disabling it hid (shown again on enabling)."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner_id: Mapped[str] = mapped_column(String(64), unique=True)
    username: Mapped[str] = mapped_column(String(32))
    username_key: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(60), nullable=True)
    bio: Mapped[str] = mapped_column(String(500), default="", server_default="")
    avatar_path: Mapped[str | None] = mapped_column(String(255), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    daily_allowance: Mapped[float | None] = mapped_column(Float, nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    hidden_job_ids: Mapped[list[int]] = mapped_column(JSON, default=list,
                                                      server_default=text("'[]'"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AccountSession(Base):
    """One sign-in: the SHA-256 of its session id (the cookie's value), until when it lasts."""

    __tablename__ = "account_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"),
                                            index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AccountToken(Base):
    """A one-time link the admin made: ``invite`` (sign up while sign-up is by invitation)
    or ``reset`` (choose a new password for ``account_id``). Only its SHA-256 is kept."""

    __tablename__ = "account_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Follow(Base):
    """``follower_id`` follows ``followee_id`` (both accounts)."""

    __tablename__ = "follows"

    follower_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"),
                                             primary_key=True)
    followee_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"),
                                             primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Like(Base):
    """An account likes a result (once)."""

    __tablename__ = "likes"
    __table_args__ = (Index("ix_likes_created_at", "created_at"),)   # the trending window

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"),
                                        primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"),
                                            primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Comment(Base):
    """A comment on a result: plain text (escaped wherever it is shown); ``hidden`` by the
    admin after a report."""

    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_job_id_id", "job_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"),
                                            index=True)
    text: Mapped[str] = mapped_column(String(1000))
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Report(Base):
    """Someone signed in reported a result (``job_id``) or a comment (``comment_id``); the
    admin resolves it (``resolution``: hidden, deleted or dismissed)."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"),
                                             index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"),
                                               nullable=True, index=True)
    comment_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), nullable=True, index=True)
    reason: Mapped[str] = mapped_column(String(300), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                         nullable=True, index=True)
    resolution: Mapped[str | None] = mapped_column(String(16), nullable=True)


class Collection(Base):
    """A named album of results, ``public`` (listed on its owner's profile) or ``private``
    (its owner, and whoever has its share link)."""

    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    share_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_share_token)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"),
                                            index=True)
    title: Mapped[str] = mapped_column(String(80))
    visibility: Mapped[str] = mapped_column(String(16), default="private")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CollectionItem(Base):
    """A result in a collection."""

    __tablename__ = "collection_items"

    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"),
                                        primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WorkSpent(Base):
    """Work units an owner (a browser's or an account's owner id) spent on a job, when it
    was queued. Kept when the job is deleted (deleting never refills an allowance);
    ``job_id`` says which job while it exists, so a job that failed gives its units back."""

    __tablename__ = "work_spent"
    __table_args__ = (Index("ix_work_spent_owner_spent", "owner_id", "spent_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner_id: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"),
                                               nullable=True, index=True)
    units: Mapped[float] = mapped_column(Float)
    spent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DailyAllowance(Base):
    """The admin's daily allowance, in work units, for ``anonymous`` browsers and for
    ``accounts`` (each account may have its own instead); ``units`` None: no limit."""

    __tablename__ = "daily_allowances"

    audience: Mapped[str] = mapped_column(String(16), primary_key=True)
    units: Mapped[float | None] = mapped_column(Float, nullable=True)

