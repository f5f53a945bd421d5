"""The compute stage: decoded frames through the engine, stabilised, with progress.

A feed-forward engine takes frames in batches and the stabiliser blends each output with
the previous one (:class:`~app.video.temporal.TemporalBlender`); an engine that carries its
previous output itself (:class:`~app.engine.types.TemporalFrameEngine`) gets frame after
frame with that output already warped to it.
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
from app.video.temporal import TemporalBlender

PREVIEW_EVERY_S = 2.0      # a preview of the latest frame at most this often


def stylise_stage(plan: ClipPlan, stylizer: FrameStylizer, batch_size: int,
                  blender: TemporalBlender | None, decoded: queue.Queue,
                  stylised: queue.Queue, stop: threading.Event, stages: tuple[Stage, ...],
                  on_progress: ProgressCallback | None, cancel: CancelToken | None) -> None:
    """The compute loop: batches of frames through the engine, then the temporal blend."""
    batch: list[tuple] = []
    started, done, previewed = time.perf_counter(), 0, 0.0
    while True:
        item = get(decoded, stop, stages, cancel)
        if item is not END:
            batch.append(item)
        if batch and (item is END or len(batch) == batch_size):
            for rgb, pts, duration in _stylise_batch(plan, stylizer, batch, blender):
                put(stylised, (rgb, pts, duration), stop, stages, cancel)
                done += 1
                if on_progress:
                    now = time.perf_counter()
                    preview = None
                    if now - previewed >= PREVIEW_EVERY_S:
                        previewed, preview = now, Image.fromarray(rgb)
                    _report(on_progress, plan, done, now - started, preview)
            batch = []
        if item is END:
            break
    plan.timings["frames"] = done
    plan.timings["fps"] = done / max(time.perf_counter() - started, 1e-6)


def _stylise_batch(plan: ClipPlan, stylizer: FrameStylizer, batch: list[tuple],
                   blender: TemporalBlender | None) -> Iterator[tuple[np.ndarray, int, int]]:
    if getattr(stylizer, "carries_previous", False):
        yield from _carry_frames(plan, stylizer, batch, blender)
        return
    tick = time.perf_counter()
    frames = torch.from_numpy(np.stack([entry[0] for entry in batch]))
    if stylizer.device.type == "cuda":  # uint8 (4x smaller than float), pinned, async
        frames = frames.pin_memory()
    frames = frames.to(stylizer.device, non_blocking=True)
    frames = frames.permute(0, 3, 1, 2).float().div_(255.0)
    with torch.inference_mode():
        outputs = stylizer.stylize_frames(frames)
        plan.add_time("stylise", time.perf_counter() - tick)
        for (_, pts, duration, step), output in zip(batch, outputs):
            tick = time.perf_counter()
            if blender is not None:
                output = blender.blend(output, step)
            rgb = output.float().clamp(0, 1).mul(255).round().byte()
            rgb = rgb.permute(1, 2, 0).contiguous().cpu().numpy()
            plan.add_time("blend", time.perf_counter() - tick)
            yield rgb, pts, duration


def _carry_frames(plan: ClipPlan, engine: Any, batch: list[tuple],
                  blender: TemporalBlender | None) -> Iterator[tuple[np.ndarray, int, int]]:
    """A :class:`~app.engine.types.TemporalFrameEngine`, frame by frame: each frame gets the
    previous output warped along the flow (none when ``stabilize`` is off), and blends it
    itself."""
    for rgb, pts, duration, step in batch:
        tick = time.perf_counter()
        frame = torch.from_numpy(rgb).permute(2, 0, 1).to(engine.device).float().div_(255.0)
        previous, reliability = (blender.warped_previous(frame, step) if blender is not None
                                 else (None, None))
        output = engine.stylize_frame(frame, previous, reliability).float().clamp(0, 1)
        if blender is not None:
            blender.remember(output)
        plan.add_time("stylise", time.perf_counter() - tick)
        yield (output.mul(255).round().byte().permute(1, 2, 0).contiguous().cpu().numpy(),
               pts, duration)


def _report(on_progress: ProgressCallback, plan: ClipPlan, done: int, seconds: float,
            preview: Image.Image | None) -> None:
    made = plan.resume_frame + done
    fps = done / max(seconds, 1e-6)
    left = max(0, plan.total - made) / fps if fps > 0 else None
    extras = {"fps": round(fps, 2), "frames_left": float(max(0, plan.total - made))}
    if left is not None:
        extras["eta_s"] = round(left, 1)
    on_progress(Progress(min(made / plan.total, 0.99),
                         f"frame {made} of {max(made, plan.total)} · {fps:.1f} frames/s",
                         preview=preview, extras=extras))
