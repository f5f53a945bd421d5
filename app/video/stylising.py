"""The compute stage: decoded frames through the engine, stabilised, with progress.

A feed-forward engine takes frames in batches and the stabiliser blends each output with
the previous one (:class:`~app.video.temporal.TemporalBlender`); an engine that carries its
previous output itself (:class:`~app.engine.types.TemporalFrameEngine`: Deep Dream, the
painterly engines) gets frame after frame with that output already warped to it, or nothing
at a shot's first frame. Every output then goes through the still hold
(:class:`~app.video.temporal.StillHold`).

Progress and the time left are counted in the engine's work: one unit a frame for the
feed-forward engines, iterations x pixels for an engine that optimises each frame
(``frame_work``), whose shot starts cost far more than the frames after them.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, Iterator

import numpy as np
import torch
from PIL import Image

from app.engine.types import CancelToken, FrameStylizer, Progress, ProgressCallback
from app.video.stages import END, ClipPlan, Stage, get, put
from app.video.temporal import Stabiliser

PREVIEW_EVERY_S = 2.0      # a preview of the latest frame at most this often
REPORT_EVERY_S = 0.25      # progress inside a frame at most this often


class SegmentJoins:
    """Where a segment ends, the temporal chain carries on from the segment's last frame as
    the viewer sees it.

    Each segment starts with a keyframe, coded afresh; had the encoder been given the next
    frame as the stabiliser made it, the keyframe would re-quantise every texture at once
    and the join would pop (measured: 3x the flicker of the frames around it on a static
    shot). So before the first frame of each new segment, the stage waits for the encoder
    to commit the segment before and decode its last frame (``joins``), and the stabiliser,
    the still hold and an engine that carries its previous output continue from that frame.
    A resumed job starts from the same frame (:func:`app.video.pipeline._primed_stabiliser`),
    so its join is like any other."""

    def __init__(self, segment_frames: int, joins: queue.Queue, stop: threading.Event,
                 stages: tuple[Stage, ...], cancel: CancelToken | None) -> None:
        self.segment_frames, self.joins = segment_frames, joins
        self.stop, self.stages, self.cancel = stop, stages, cancel

    def before(self, index: int, stabiliser: Stabiliser | None) -> None:
        """Called before the ``index``-th frame of this run (from 0) is stabilised."""
        if stabiliser is None or index == 0 or index % self.segment_frames:
            return
        stabiliser.continue_from(get(self.joins, self.stop, self.stages, self.cancel))


def stylise_stage(plan: ClipPlan, engine: FrameStylizer, batch_size: int,
                  stabiliser: Stabiliser | None, joins: SegmentJoins, decoded: queue.Queue,
                  stylised: queue.Queue, stop: threading.Event, stages: tuple[Stage, ...],
                  on_progress: ProgressCallback | None, cancel: CancelToken | None) -> None:
    """The compute loop: batches of frames through the engine, stabilised, to the encoder."""
    progress = ClipProgress(plan, engine, on_progress)
    carries = bool(getattr(engine, "carries_previous", False))
    if carries and hasattr(engine, "watch"):
        engine.watch(progress.within_frame, cancel)
    batch: list[tuple] = []
    while True:
        item = get(decoded, stop, stages, cancel)
        if item is not END:
            batch.append(item)
        if batch and (item is END or len(batch) == batch_size or carries):
            made = (_carry_frames(plan, engine, batch, stabiliser, progress, joins) if carries
                    else _stylise_batch(plan, engine, batch, stabiliser, progress, joins))
            for rgb, pts, duration, fresh in made:
                if pts < plan.resume_pts:    # a piece's overlap: it only seeds the chain
                    continue
                put(stylised, (rgb, pts, duration), stop, stages, cancel)
                progress.frame_done(rgb, fresh)
            batch = []
        if item is END:
            break
    plan.timings.update(progress.summary())


def _delivered(plan: ClipPlan, output: torch.Tensor, source: np.ndarray, step: Any,
               stabiliser: Stabiliser | None) -> np.ndarray:
    """A (3, H, W) output in [0, 1], made from the input frame ``source``, as the RGB uint8
    frame the encoder gets (held still where the input is)."""
    tick = time.perf_counter()
    rgb = output.float().clamp(0, 1).mul(255).round().byte()
    rgb = rgb.permute(1, 2, 0).contiguous().cpu().numpy()
    if stabiliser is not None:
        rgb = stabiliser.hold.hold(rgb, source, step)
    plan.add_time("blend", time.perf_counter() - tick)
    return rgb


def _stylise_batch(plan: ClipPlan, stylizer: FrameStylizer, batch: list[tuple],
                   stabiliser: Stabiliser | None, progress: "ClipProgress",
                   joins: SegmentJoins) -> Iterator[tuple[np.ndarray, int, int, bool]]:
    tick = time.perf_counter()
    frames = torch.from_numpy(np.stack([entry[0] for entry in batch]))
    if stylizer.device.type == "cuda":  # uint8 (4x smaller than float), pinned, async
        frames = frames.pin_memory()
    frames = frames.to(stylizer.device, non_blocking=True)
    frames = frames.permute(0, 3, 1, 2).float().div_(255.0)
    with torch.inference_mode():
        outputs = stylizer.stylize_frames(frames)
        plan.add_time("stylise", time.perf_counter() - tick)
        for (source, pts, duration, step), output in zip(batch, outputs):
            joins.before(progress.frames, stabiliser)
            tick = time.perf_counter()
            if stabiliser is not None:
                output = stabiliser.blender.blend(output, step)
            plan.add_time("blend", time.perf_counter() - tick)
            yield _delivered(plan, output, source, step, stabiliser), pts, duration, False


def _carry_frames(plan: ClipPlan, engine: Any, batch: list[tuple],
                  stabiliser: Stabiliser | None, progress: "ClipProgress",
                  joins: SegmentJoins) -> Iterator[tuple[np.ndarray, int, int, bool]]:
    """A :class:`~app.engine.types.TemporalFrameEngine`, frame by frame: each frame gets the
    previous output warped along the flow and the weight of that warp (none at a shot's
    first frame, or when ``stabilize`` is off); ``fresh`` says which frames had none."""
    consistency = bool(getattr(engine, "wants_consistency", False))
    for rgb, pts, duration, step in batch:
        joins.before(progress.frames, stabiliser)
        tick = time.perf_counter()
        frame = torch.from_numpy(rgb).permute(2, 0, 1).to(engine.device).float().div_(255.0)
        previous, weight = (stabiliser.blender.warped_previous(frame, step, consistency)
                            if stabiliser is not None else (None, None))
        progress.begin_frame(previous is None)
        output = engine.stylize_frame(frame, previous, weight).float().clamp(0, 1)
        if stabiliser is not None:
            stabiliser.blender.remember(output)
        plan.add_time("stylise", time.perf_counter() - tick)
        yield (_delivered(plan, output, rgb, step, stabiliser), pts, duration,
               previous is None)


class ClipProgress:
    """Progress, pace and time left of a clip, counted in the engine's work per frame
    (``engine.frame_work(shot_start, height, width)``; 1 a frame without it)."""

    def __init__(self, plan: ClipPlan, engine: Any, on_progress: ProgressCallback | None
                 ) -> None:
        self.plan, self.on_progress = plan, on_progress
        work = getattr(engine, "frame_work", None)
        self.first_work = work(True, plan.height, plan.width) if work else 1.0
        self.later_work = work(False, plan.height, plan.width) if work else 1.0
        self.per_work = work is not None        # say seconds a frame, not frames a second
        self.started = time.perf_counter()
        self.frames = self.fresh = 0
        self.work_done = 0.0                    # in this run, whole frames
        self.in_frame = 0.0                     # work of the frame being made, so far
        self._cost = self.first_work            # work of the frame being made, in all
        self._previewed = self._reported = 0.0

    @property
    def total_work(self) -> float:
        return self.first_work + (self.plan.total - 1) * self.later_work

    def _before_run(self) -> float:
        """Work of the frames earlier runs made (the clip's first frame a shot start)."""
        made = self.plan.resume_frame
        return self.first_work + (made - 1) * self.later_work if made else 0.0

    def begin_frame(self, fresh: bool) -> None:
        """A frame goes to the engine (``fresh``: from scratch, a shot start)."""
        self._cost = self.first_work if fresh or self._first_of_clip() else self.later_work
        self.in_frame = 0.0

    def within_frame(self, step: int, steps: int) -> None:
        """The engine's news from inside a frame: ``step`` of its ``steps`` are done."""
        self.in_frame = self._cost * min(1.0, step / max(steps, 1))
        now = time.perf_counter()
        if self.on_progress and now - self._reported >= REPORT_EVERY_S:
            self._reported = now
            self._report(now, None, f"step {step} of {steps}")

    def _first_of_clip(self) -> bool:
        return self.plan.resume_frame + self.frames == 0

    def frame_done(self, rgb: np.ndarray, fresh: bool) -> None:
        """A frame went to the encoder (``fresh``: made from scratch, a shot start)."""
        first_of_clip = self._first_of_clip()
        self.frames += 1
        self.fresh += int(fresh)
        self.work_done += self.first_work if fresh or first_of_clip else self.later_work
        self.in_frame = 0.0
        if not self.on_progress:
            return
        now = time.perf_counter()
        preview = None
        if now - self._previewed >= PREVIEW_EVERY_S:
            self._previewed, preview = now, Image.fromarray(rgb)
        self._reported = now
        self._report(now, preview, "")

    def _report(self, now: float, preview: Image.Image | None, inside: str) -> None:
        assert self.on_progress is not None
        plan, seconds = self.plan, max(now - self.started, 1e-6)
        made = plan.resume_frame + self.frames
        done_work = self._before_run() + self.work_done + self.in_frame
        rate = (self.work_done + self.in_frame) / seconds
        left = max(0.0, self.total_work - done_work)
        fps = self.frames / seconds
        extras = {"fps": round(fps, 2), "frames_left": float(max(0, plan.total - made))}
        if rate > 0:
            extras["eta_s"] = round(left / rate, 1)
        if self.per_work:
            pace = f"{seconds / self.frames:.1f} s a frame" if self.frames else "first frame"
        else:
            pace = f"{fps:.1f} frames/s"
        if inside:
            message = f"frame {made + 1} of {max(made + 1, plan.total)} · {inside} · {pace}"
        else:
            message = f"frame {made} of {max(made, plan.total)} · {pace}"
        on_progress = self.on_progress
        on_progress(Progress(min(done_work / self.total_work, 0.99), message, preview=preview,
                             extras=extras))

    def summary(self) -> dict[str, float]:
        """Figures for ``timings``: frames made in this run, of them made from scratch, and
        frames a second."""
        seconds = max(time.perf_counter() - self.started, 1e-6)
        return {"frames": self.frames, "fresh": self.fresh, "fps": self.frames / seconds}
