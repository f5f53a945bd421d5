"""The pipeline's plumbing: the plan its stages agree on, daemon stage threads, and bounded
queues that are polled against a cancel token.

Every wait checks, every :data:`POLL` seconds, whether the job was cancelled, another stage
failed or the pipeline is stopping, so no stage can hang the others.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable

from app.engine.errors import Cancelled
from app.engine.types import CancelToken

END = object()   # the last item a stage puts on its queue
POLL = 0.05      # seconds between checks of the cancel token while a queue is full or empty


@dataclass
class ClipPlan:
    """What the stages agree on before the first frame."""

    width: int                  # output size, upright
    height: int
    decode_size: tuple[int, int]  # size frames are scaled to before being turned upright
    quarter_turns: int          # np.rot90 turns that make a stored frame upright
    fps: float
    start_s: float              # the stretch being made, in seconds of the source
    end_s: float | None
    total: int                  # expected frame count of the stretch, for progress
    time_base: Fraction = Fraction(1, 1)
    frame_step: int = 1         # one frame's duration in time_base units
    base: int = 0               # source pts of the stretch's start (output pts are relative)
    resume_pts: int = 0         # output pts from which frames are stylised (after a resume)
    resume_frame: int = 0
    lead_pts: int | None = None   # a piece's overlap: stylised from here, kept from resume_pts
    stop_pts: int | None = None   # a piece ends before this output pts (None: the stretch's end)
    timings: dict[str, float] = field(default_factory=dict)

    def add_time(self, key: str, seconds: float) -> None:
        """Count ``seconds`` more spent in stage ``key`` (the ``timings`` a caller asked for)."""
        self.timings[key] = self.timings.get(key, 0.0) + seconds


@dataclass(frozen=True)
class Piece:
    """A stretch of a clip that one worker makes while others make the rest
    (:mod:`app.video.pieces`): output pts ``start_pts`` up to ``end_pts`` (None: to the end),
    its first frame's number in the clip, and the frames expected in it."""

    number: int
    start_pts: int
    end_pts: int | None
    first_frame: int
    frames: int


class Stopped(Exception):
    """Ends a stage quietly because the main loop is ending (cancelled or failed)."""


class Stage(threading.Thread):
    """A daemon thread that remembers the exception that ended it."""

    def __init__(self, target: Callable[[], None], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._work = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._work()
        except Stopped:
            pass
        except BaseException as exc:  # handed to the main thread, which re-raises it
            self.error = exc


def put(target: queue.Queue, item: Any, stop: threading.Event,
        stages: tuple[Stage, ...] = (), cancel: CancelToken | None = None) -> None:
    """Put ``item`` on ``target``, waiting while it is full."""
    while True:
        check(stop, stages, cancel)
        try:
            target.put(item, timeout=POLL)
            return
        except queue.Full:
            continue


def get(source: queue.Queue, stop: threading.Event, stages: tuple[Stage, ...] = (),
        cancel: CancelToken | None = None) -> Any:
    """The next item of ``source``, waiting while it is empty."""
    while True:
        check(stop, stages, cancel)
        try:
            return source.get(timeout=POLL)
        except queue.Empty:
            continue


def check(stop: threading.Event, stages: tuple[Stage, ...],
          cancel: CancelToken | None) -> None:
    """Raise if the job was cancelled, a stage failed, or the job is stopping."""
    if cancel is not None and cancel.is_set():
        raise Cancelled("video stylisation cancelled")
    for stage in stages:
        if stage.error is not None:
            raise stage.error
    if stop.is_set():
        raise Stopped()


def wait_for(stage: Stage, cancel: CancelToken | None) -> None:
    """Wait until ``stage`` ends; re-raise what ended it."""
    while stage.is_alive():
        if cancel is not None and cancel.is_set():
            raise Cancelled("video stylisation cancelled")
        stage.join(timeout=POLL)
    if stage.error is not None:
        raise stage.error
