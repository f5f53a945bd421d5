"""The decode stage: demux, decode, scale and turn upright the frames of the stretch being
made, with the optical flow of each frame computed on the way (:mod:`app.video.temporal`).

Also the plain readers the rest of the product uses: :func:`iter_frames` (every frame, for
metrics, tests and benchmarks) and :func:`extract_poster` (one frame for thumbnails).
"""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path
from typing import Iterator

import av
import numpy as np
from PIL import Image

from app.engine.errors import StyleTransferError
from app.video.probe import VideoLimits, open_clip, video_stream
from app.video.stages import END, ClipPlan, put
from app.video.flow import FlowTracker


def decode_stage(container: av.container.InputContainer, vstream: av.VideoStream,
                 plan: ClipPlan, out: queue.Queue, stop: threading.Event, limits: VideoLimits,
                 tracker: FlowTracker | None) -> None:
    """Put ``(rgb, pts, duration, flow step)`` on ``out`` for each frame of the stretch, then
    :data:`~app.video.stages.END`. After a resume, the frames before the resume point are
    decoded only to warm the optical flow up; a piece's frames start a few frames early
    (``plan.lead_pts``: its overlap) and end before ``plan.stop_pts``."""
    skip_to = plan.resume_pts if plan.lead_pts is None else plan.lead_pts
    if plan.base + skip_to > 0:      # a little before, so the flow sees the frame before
        seek(container, vstream, max(0, plan.base + skip_to - 2 * plan.frame_step))
    count, last_pts = 0, None
    for frame in demuxed_frames(container, vstream, plan):
        if stop.is_set():
            return
        pts = frame.pts
        if pts is None or (last_pts is not None and pts <= last_pts):
            pts = 0 if last_pts is None else last_pts + plan.frame_step
        last_pts = pts
        rel = pts - plan.base
        if plan.end_s is not None and rel * plan.time_base >= plan.end_s - plan.start_s:
            break
        if plan.stop_pts is not None and rel >= plan.stop_pts:
            break                                       # the next piece's first frame
        if rel < skip_to:                               # before the stretch, or already made
            if tracker is not None and rel >= skip_to - 4 * plan.frame_step:
                tracker.step(upright_rgb(frame, plan))
            continue
        count += 1
        if count > limits.max_frames:
            raise StyleTransferError(f"the video has more than {limits.max_frames} frames; "
                                     f"the limit is {limits.max_frames}")
        tick = time.perf_counter()
        rgb = upright_rgb(frame, plan)
        plan.add_time("decode", time.perf_counter() - tick)
        tick = time.perf_counter()
        step = tracker.step(rgb) if tracker else None
        plan.add_time("flow", time.perf_counter() - tick)
        put(out, (rgb, rel, frame.duration or plan.frame_step, step), stop)
    put(out, END, stop)


def seek(container: av.container.InputContainer, vstream: av.VideoStream, pts: int) -> None:
    """Jump to the keyframe at or before ``pts`` (a format that cannot seek is decoded from
    its start instead: the frames before ``pts`` are skipped either way)."""
    try:
        container.seek(pts, stream=vstream, backward=True)
    except (av.FFmpegError, OSError, ValueError):
        container.seek(0)


def demuxed_frames(container: av.container.InputContainer, vstream: av.VideoStream,
                   plan: ClipPlan) -> Iterator[av.VideoFrame]:
    """The stream's frames in order; a decoding error is a damaged file."""
    decoded = 0
    for packet in container.demux(vstream):
        tick = time.perf_counter()
        try:
            frames = packet.decode()
        except av.FFmpegError as exc:
            raise StyleTransferError(f"the video is damaged; decoding stopped at frame "
                                     f"{decoded + 1} ({exc})") from exc
        plan.add_time("decode", time.perf_counter() - tick)
        for frame in frames:
            decoded += 1
            yield frame


def upright_rgb(frame: av.VideoFrame, plan: ClipPlan) -> np.ndarray:
    """``frame`` at the plan's output size, turned upright, as RGB uint8."""
    width, height = plan.decode_size
    rgb = frame.to_ndarray(width=width, height=height, format="rgb24", interpolation="AREA")
    if plan.quarter_turns:
        rgb = np.ascontiguousarray(np.rot90(rgb, k=plan.quarter_turns))
    return rgb


def extract_poster(path: Path, at_seconds: float = 1.0) -> Image.Image:
    """An upright frame about ``at_seconds`` into the clip (the first frame of a shorter one),
    for thumbnails and the player's poster."""
    container, _ = open_clip(Path(path))
    with container:
        stream = video_stream(container)
        chosen = None
        try:
            for frame in container.decode(stream):
                if chosen is None or (frame.time or 0.0) <= at_seconds:
                    chosen = frame
                if frame.time is not None and frame.time >= at_seconds:
                    break
        except av.FFmpegError as exc:
            if chosen is None:
                raise StyleTransferError(f"the video is damaged ({exc})") from exc
        if chosen is None:
            raise StyleTransferError("the video's frames cannot be decoded; the file is damaged")
        turns = int(round((chosen.rotation or 0) / 90.0)) % 4
        image = chosen.to_image()
        return image.rotate(90 * turns, expand=True) if turns else image


def iter_frames(path: Path, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """The clip's frames one at a time as upright RGB uint8 arrays, scaled to ``size``
    (width, height) when given: for metrics, tests and benchmarks."""
    container, _ = open_clip(Path(path))
    with container:
        stream = video_stream(container)
        for frame in container.decode(stream):
            turns = int(round((frame.rotation or 0) / 90.0)) % 4
            rgb = frame.to_ndarray(format="rgb24")
            rgb = np.ascontiguousarray(np.rot90(rgb, k=turns)) if turns else rgb
            if size is not None and (rgb.shape[1], rgb.shape[0]) != tuple(size):
                rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX))
            yield rgb
