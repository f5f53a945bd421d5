"""What the worker thread and its engine child say to each other over their pipe: small
frozen dataclasses, one per kind of message (picklable, compared by type, never by a
string).

Child to parent, while a job runs: :class:`ProgressReport`, :class:`SegmentCommitted`,
:class:`PartialWritten`, :class:`CheckpointCommitted`; then exactly one answer: :class:`JobDone`, :class:`JobFailed`,
:class:`JobCancelled` or :class:`JobErrored` (for a clip's plan or one of its pieces,
:class:`PiecesPlanned` or :class:`PieceMade` instead of :class:`JobDone`). The parent sends the job's spec, or None to
make the child exit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Union


@dataclass(frozen=True)
class JobResult:
    """What a finished job made."""

    result_path: str
    thumb_path: str
    width: int
    height: int
    preview_path: str | None = None
    strength_path: str | None = None


@dataclass(frozen=True)
class ProgressReport:
    """How far the engine is: ``fraction`` in 0..1, a message, whether the preview file was
    rewritten, and the seconds it still needs (None while it cannot tell)."""

    fraction: float
    message: str
    preview_written: bool = False
    eta_s: float | None = None


@dataclass(frozen=True)
class SegmentCommitted:
    """A clip's segment committed to disk (:meth:`app.video.segments.SegmentFile.to_json`)."""

    segment: dict[str, Any]


@dataclass(frozen=True)
class PartialWritten:
    """A clip's playable partial result was rewritten at ``path`` (media-relative)."""

    path: str


@dataclass(frozen=True)
class CheckpointCommitted:
    """A training's checkpoint was written durably at ``path`` (media-relative); a run
    started from it resumes at ``step``."""

    path: str
    step: int


@dataclass(frozen=True)
class JobDone:
    result: JobResult


@dataclass(frozen=True)
class JobFailed:
    """The job cannot be done; ``message`` is for the person who asked."""

    message: str


@dataclass(frozen=True)
class JobCancelled:
    pass


@dataclass(frozen=True)
class JobErrored:
    """Something unforeseen; ``description`` holds the traceback, for the log."""

    description: str


@dataclass(frozen=True)
class PiecesPlanned:
    """A clip's pieces (:class:`app.video.stages.Piece` fields as dicts), when the worker
    asked for the plan instead of the clip."""

    pieces: list[dict[str, Any]]


@dataclass(frozen=True)
class PieceMade:
    """One piece of a clip is made: its committed segment (``SegmentFile.to_json``)."""

    segment: dict[str, Any]


Answer = Union[JobDone, JobFailed, JobCancelled, JobErrored, PiecesPlanned, PieceMade]
News = Union[SegmentCommitted, PartialWritten, CheckpointCommitted]
ChildMessage = Union[ProgressReport, News, Answer]
Send = Callable[[ChildMessage], None]
