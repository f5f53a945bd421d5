"""``job_segments`` (revision 0012): a clip split into pieces that any free worker may make.

One row per piece of a split clip job (:mod:`app.jobs.pieces`): its place (``number``), its
stretch of the output in the source video stream's time base (``start_pts`` up to
``end_pts``; None: to the end of the clip) and the frames expected in it, its state
(queued → running → done), the worker running it with the fencing token of that claim and
how many runs it took, and once done the committed segment file
(:class:`app.video.segments.SegmentFile` as JSON, also added to ``jobs.segments``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, utcnow


class PieceState(StrEnum):
    """A piece's states: queued → running → done (back to queued when its run stops)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


class JobSegment(Base):
    """One piece of a split clip job."""

    __tablename__ = "job_segments"
    __table_args__ = (
        Index("ix_job_segments_job_number", "job_id", "number", unique=True),
        Index("ix_job_segments_state", "state", "id"),      # the free workers' look-up
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    start_pts: Mapped[int] = mapped_column(Integer)
    end_pts: Mapped[int | None] = mapped_column(Integer, nullable=True)
    first_frame: Mapped[int] = mapped_column(Integer)
    frames: Mapped[int] = mapped_column(Integer)          # expected: what progress weighs
    state: Mapped[str] = mapped_column(String(16), default=PieceState.QUEUED)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    worker_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    segment: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 onupdate=utcnow)
