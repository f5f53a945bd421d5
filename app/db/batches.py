"""The batch tables (revision 0013): ``batches`` (one row per "many photos at once" request)
and ``batch_items`` (one row per photo that became a job, in the order sent). A batch owns
nothing but its rows: the jobs are ordinary jobs in the queue, and a photo refused on the way
in is kept only as its name and the reason (``refused``). Retrying a failed photo points its
item at the new job; deleting a job leaves its item pointing nowhere."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, utcnow


def new_batch_id() -> str:
    """A short URL-safe id for a batch's page (96 random bits)."""
    return secrets.token_urlsafe(12)


class Batch(Base):
    """Many photos sent at once with the same styles and settings. ``refused``: the photos
    (or archive members) that did not become jobs, as ``{"name", "reason"}``."""

    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_batch_id)
    owner_id: Mapped[str] = mapped_column(String(64), index=True)
    refused: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list,
                                                          server_default=text("'[]'"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BatchItem(Base):
    """One photo of a batch: its name as uploaded (the download's file name) and its job."""

    __tablename__ = "batch_items"

    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"),
                                          primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"),
                                               nullable=True, index=True)
