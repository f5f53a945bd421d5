"""The tables: ``jobs`` (one row per Generate click: the queue and the gallery at once),
``workers`` (one row per worker thread, with its heartbeat: :mod:`app.jobs.leases`), and the
style library: ``styles`` (one row per distinct style image) and ``job_styles`` (who used it),
``owner_keys`` (carrying one's results to another browser) and ``fast_models`` (the models
people trained or imported). The community's tables (accounts, likes, comments, follows,
collections, allowances) are in :mod:`app.db.community`, imported at the end so they are part
of the same metadata."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, utcnow

if TYPE_CHECKING:
    from app.engine.options import StyleOptions


def new_public_id() -> str:
    """Short URL-safe id for job URLs (96 random bits)."""
    return secrets.token_urlsafe(12)


def new_share_token() -> str:
    """Unguessable share token: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


class JobState(StrEnum):
    """The states a job moves through: queued → running → succeeded | failed | cancelled.
    A ``str`` enum: stored as its value, and equal to it."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """Whether the job has ended (it moves no further)."""
        return self in FINISHED_STATES


FINISHED_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


class Job(Base):
    """A style-transfer job with its inputs, progress and outputs (paths relative to media)."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_state_id", "state", "id"),
        Index("ix_jobs_gallery", "state", "visibility", "finished_at"),
        # the media route looks a file up by the column that names it (privacy, moderation)
        Index("ix_jobs_content_path", "content_path"),
        Index("ix_jobs_result_path", "result_path"),
        Index("ix_jobs_thumb_path", "thumb_path"),
        Index("ix_jobs_preview_path", "preview_path"),
        Index("ix_jobs_partial_path", "partial_path"),
        Index("ix_jobs_deleted_at", "deleted_at"),     # the trash collector's every pass
        Index("ix_jobs_owner_started", "owner_id", "started_at"),   # whose turn it is
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    share_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_share_token)
    owner_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="image")
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED)   # a JobState
    engine: Mapped[str] = mapped_column(String(32))
    # What its person chose (StyleOptions.stored(), JSON); read it typed through ``chosen``.
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(String(200), default="waiting in the queue")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The admin's word on its place in line: higher runs first (0: its turn comes fairly).
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # A clip's frames to make (1 for a picture): what its place in line weighs.
    frames: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    content_path: Mapped[str] = mapped_column(String(255))
    style_paths: Mapped[list[str]] = mapped_column(JSON, default=list)
    result_path: Mapped[str | None] = mapped_column(String(255), nullable=True)
    thumb_path: Mapped[str | None] = mapped_column(String(255), nullable=True)
    preview_path: Mapped[str | None] = mapped_column(String(255), nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    worker_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # A clip's committed output segments (app.video.segments.SegmentFile as JSON), kept
    # across runs so a job stopped part-way continues after the last one; and the playable
    # partial result made from them while the job runs.
    segments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    partial_path: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # What people see and choose (revision 0006): a title (None: from the content's file
    # name), the uploads' original names (download names), whether others may see the
    # original photo, whether the admin hid it, when its owner deleted it (it goes for good
    # after an undo window), what a strength preview re-renders from, and when the engine
    # expects to finish.
    title: Mapped[str | None] = mapped_column(String(120), nullable=True)
    content_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    style_names: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    show_original: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    strength_path: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Revision 0014: the brushed mask it was made under (white: where the style goes), and
    # for a job made from another (``derivation``: "enhance" or "deeper") that job and, for
    # an Enhance of a painterly result, the picture it starts from.
    mask_path: Mapped[str | None] = mapped_column(String(255), nullable=True)
    start_path: Mapped[str | None] = mapped_column(String(255), nullable=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL", name="fk_jobs_parent_id"), nullable=True,
        index=True)
    derivation: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Fast models (revision 0011): a training job's last committed checkpoint (a restarted
    # run resumes from it), and the job's own copy of the trained model it paints with (or,
    # for a training that adds styles, the model it starts from).
    checkpoint_path: Mapped[str | None] = mapped_column(String(255), nullable=True)
    model_path: Mapped[str | None] = mapped_column(String(255), nullable=True)
    eta_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 onupdate=utcnow)

    @property
    def chosen(self) -> "StyleOptions":
        """Its options, typed (the schema's defaults for anything not stored)."""
        from app.engine.options import StyleOptions

        return StyleOptions.model_validate(self.options or {})

    @property
    def is_finished(self) -> bool:
        """True once the job can no longer change state."""
        return self.state in FINISHED_STATES

    def media_paths(self) -> list[str]:
        """Every media file this job owns (inputs, outputs, previews, a clip's segments)."""
        paths = [self.content_path, *self.style_paths, self.result_path, self.thumb_path,
                 self.preview_path, self.partial_path, self.strength_path, self.mask_path,
                 self.start_path, self.checkpoint_path, self.model_path,
                 *(s.get("path") for s in self.segments or [])]
        return [p for p in paths if p]


class OwnerKey(Base):
    """A key that lets another browser take on an owner id (``/me/key``): only its SHA-256
    is kept, one per owner; making a new one replaces the old."""

    __tablename__ = "owner_keys"

    owner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WorkerRecord(Base):
    """A worker thread somewhere (``id`` is its worker id, ``<host>-<pid>-w<N>``). Both times
    are the database's clock (:class:`app.db.clock.db_now`), never a worker's, so machines
    with skewed clocks still agree on whose lease ran out."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    device: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)   # the job it runs
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=text("CURRENT_TIMESTAMP"))
    last_heartbeat: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                     server_default=text("CURRENT_TIMESTAMP"))


class StyleImage(Base):
    """One distinct style image in the library (``styles``), known by the SHA-256 of its bytes,
    so the same painting uploaded twice is one entry. ``path``/``thumb_path`` are the library's
    own copy (relative to media), kept when the jobs that used it are deleted. ``curated`` ones
    were added by the admin; ``hidden`` ones are never listed nor usable by ``style_id``."""

    __tablename__ = "styles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(String(255))
    thumb_path: Mapped[str | None] = mapped_column(String(255), nullable=True)
    title: Mapped[str | None] = mapped_column(String(120), nullable=True)
    curated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class JobStyle(Base):
    """Which library style a job used at which position of its ``style_paths`` (``job_styles``):
    what the library counts uses from (only public, finished jobs that offered it count)."""

    __tablename__ = "job_styles"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"),
                                        primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    style_id: Mapped[int] = mapped_column(ForeignKey("styles.id", ondelete="CASCADE"),
                                          index=True)
    # offered to the public library (revision 0008): an upload whose owner ticked "add my
    # style images to the public style library", or a style picked from the library
    shared: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


def as_utc(moment: datetime | None) -> datetime | None:
    """``moment`` as an aware UTC datetime (SQLite hands back naive UTC values)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


class FastModel(Base):
    """A trained model someone owns (``fast_models``): made by a training job (``job_id``)
    or imported from a file. Its files are its own copies under ``models/`` (the model, a
    picture it painted, a thumbnail of each style it was trained on), kept when the job that
    trained it is deleted. ``shared`` ones are listed in the style library; ``hidden`` ones
    (the admin's) are listed nowhere and paint nothing."""

    __tablename__ = "fast_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    owner_id: Mapped[str] = mapped_column(String(64), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"),
                                               nullable=True, index=True)
    title: Mapped[str] = mapped_column(String(120))
    path: Mapped[str] = mapped_column(String(255))
    preview_path: Mapped[str | None] = mapped_column(String(255), nullable=True)
    style_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    style_thumbs: Mapped[list[str]] = mapped_column(JSON, default=list)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(String(64))
    shared: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def media_paths(self) -> list[str]:
        """Every media file this model owns."""
        return [p for p in (self.path, self.preview_path, *(self.style_thumbs or [])) if p]


# the community's tables, a split clip's pieces and the batches' tables join this metadata
# (Alembic and the models test read it from here)
from app.db import batches, community, segments  # noqa: E402, F401
