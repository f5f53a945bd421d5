"""Stylising a clip with PyAV: decode, stylise in batches, stabilise, encode in segments, join.

Three stages run at once around bounded queues, so memory stays flat for any clip length:

    decode thread  ->  [frames]  ->  this thread: stylise + blend  ->  [frames]  ->  encode thread

The encode thread writes the output as segments of about :data:`SEGMENT_SECONDS` each
(:mod:`app.video.encode`), each committed durably to a :class:`~app.video.segments.SegmentSink`;
a job that was stopped part-way continues after its last committed segment (the frames before
it are only decoded again, to warm the optical flow up, never stylised again). At the end the
segments are joined without re-encoding, with the sound of the same stretch of the source
(:func:`~app.video.segments.join_segments`). Frame timestamps are carried over from the input
(variable frame rate survives), frames are turned upright from the rotation metadata, and
``trim`` makes only a stretch of the clip. The result goes to a temporary name beside ``dst``,
is fsynced and renamed; a failure or a cancellation leaves nothing half-written behind.
"""

from __future__ import annotations

import contextlib
import queue
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator

import av
import numpy as np
import torch
from PIL import Image

from app.engine.errors import Cancelled, StyleTransferError
from app.engine.images import fit_size
from app.engine.types import CancelToken, FrameStylizer, Progress, ProgressCallback
from app.storage import TEMP_PREFIX
from app.video.encode import SegmentWriter, StreamPlan, last_frame
from app.video.probe import VideoInfo, VideoLimits, inspect_video, open_clip, video_stream
from app.video.segments import (FolderSegments, SegmentFile, SegmentSink, check_consecutive,
                                fsync_rename, join_segments)
from app.video.temporal import FlowTracker, TemporalBlender

MIN_OUTPUT_SIDE = 16       # the engines' smallest frame side (AdaIN: relu4_1 at 1/8)
SEGMENT_SECONDS = 8.0      # a crash costs at most this much of the clip; each segment starts
                           # with a keyframe, which shows as a small pop, so not much shorter
PREVIEW_EVERY_S = 2.0      # a preview of the latest frame at most this often
_END = object()
_POLL = 0.05  # seconds between checks of the cancel token while a queue is full or empty


@dataclass
class _Plan:
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
    timings: dict[str, float] = field(default_factory=dict)


class _Stage(threading.Thread):
    """A daemon thread that remembers the exception that ended it."""

    def __init__(self, target: Callable[[], None], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._work = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._work()
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the main thread, which re-raises it
            self.error = exc


def check_output_size(info: VideoInfo, max_side: int) -> tuple[int, int]:
    """The output size of ``info``'s clip at ``max_side``; refuses one whose shorter side
    would be under :data:`MIN_OUTPUT_SIDE` (too thin for the engines and the optical flow)."""
    width, height = fit_size(info.width, info.height, max_side)
    if min(width, height) < MIN_OUTPUT_SIDE:
        raise StyleTransferError(
            f"the clip would come out {width}x{height} at {max_side} px; its shorter side must "
            f"be at least {MIN_OUTPUT_SIDE} px, so choose a larger output size")
    return width, height


def check_trim(info: VideoInfo, trim: tuple[float | None, float | None] | None
               ) -> tuple[float, float | None]:
    """(start, end) seconds of the stretch to make; refuses one outside the clip or empty."""
    start, end = trim or (None, None)
    start = float(start or 0.0)
    if start < 0 or (end is not None and end <= start):
        raise StyleTransferError("the end of the stretch must come after its start")
    if start >= info.duration:
        raise StyleTransferError(f"the clip is {info.duration:.1f} s long; the stretch starts "
                                 f"at {start:g} s, after its end")
    if end is not None and end >= info.duration:
        end = None                      # up to the end of the clip
    return start, end


def stylize_video(src: Path, dst: Path, stylizer: FrameStylizer, max_side: int,
                  limits: VideoLimits, on_progress: ProgressCallback | None = None,
                  cancel: CancelToken | None = None, batch_size: int | None = None, *,
                  stabilize: bool = True, timings: dict[str, float] | None = None,
                  trim: tuple[float | None, float | None] | None = None,
                  sink: SegmentSink | None = None,
                  segment_seconds: float = SEGMENT_SECONDS) -> VideoInfo:
    """Stylise the clip ``src`` with ``stylizer`` (its styles already encoded, see
    :func:`app.engine.dispatch.make_frame_stylizer`) into an MP4 at ``dst``, the longer side
    at most ``max_side``, and describe the result.

    ``trim`` is (start, end) in seconds (None: from the start / to the end). ``sink`` keeps
    the segments and says which earlier runs committed (default: a temporary folder, no
    resume). ``stabilize`` turns the optical-flow blending of :mod:`app.video.temporal` on;
    ``timings``, when given, is filled with seconds spent decoding, in optical flow,
    stylising, blending and encoding, and the frames stylised in this run. Raises
    :class:`StyleTransferError` for clips we refuse and :class:`Cancelled` soon after
    ``cancel`` is set.
    """
    info = inspect_video(Path(src), limits)
    check_output_size(info, max_side)
    plan = _make_plan(info, max_side, check_trim(info, trim))
    batch_size = batch_size or (8 if stylizer.device.type == "cuda" else 2)
    with contextlib.ExitStack() as stack:
        if sink is None:                   # a one-off run: segments in a scratch folder
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="dreamgen-"))
            sink = FolderSegments(Path(scratch))
        done = _run(Path(src), plan, stylizer, batch_size, stabilize, limits, sink, on_progress,
                    cancel, segment_seconds)
        _join(Path(src), Path(dst), sink, done, plan)
    if timings is not None:
        timings.update(plan.timings)
    frames = done[-1].next_frame
    if on_progress:
        on_progress(Progress(1.0, f"frame {frames} of {frames}",
                             extras={"fps": plan.timings.get("fps", 0.0)}))
    seconds = float(done[-1].end_pts * plan.time_base)
    return VideoInfo(width=plan.width, height=plan.height, fps=info.fps, duration=seconds,
                     frame_count=frames, has_audio=info.has_audio,
                     audio_codec=_output_audio(info), rotation=0, container="mp4",
                     video_codec="h264")


def _output_audio(info: VideoInfo) -> str | None:
    from app.video.segments import COPYABLE_AUDIO

    if not info.has_audio:
        return None
    return info.audio_codec if info.audio_codec in COPYABLE_AUDIO else "aac"


def _make_plan(info: VideoInfo, max_side: int, window: tuple[float, float | None]) -> _Plan:
    width, height = fit_size(info.width, info.height, max_side)
    turns = info.rotation // 90
    decode_size = (height, width) if turns % 2 else (width, height)
    start, end = window
    seconds = (end if end is not None else info.duration) - start
    share = seconds / info.duration if info.duration > 0 else 1.0
    return _Plan(width=width, height=height, decode_size=decode_size, quarter_turns=turns,
                 fps=info.fps, start_s=start, end_s=end,
                 total=max(1, round(info.frame_count * min(1.0, share))))


def _join(src: Path, dst: Path, sink: SegmentSink, done: list[SegmentFile],
          plan: _Plan) -> None:
    temp = dst.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex[:16]}-{dst.name}")
    try:
        tick = time.perf_counter()
        join_segments([sink.file_for(s) for s in done], temp, audio_from=src,
                      window=(plan.start_s, plan.end_s))
        fsync_rename(temp, dst)
        _add(plan, "join", time.perf_counter() - tick)
    finally:
        temp.unlink(missing_ok=True)


def _resume_point(sink: SegmentSink, plan: _Plan) -> list[SegmentFile]:
    """The segments earlier runs committed that this run keeps (same time base, unbroken)."""
    tb = (plan.time_base.numerator, plan.time_base.denominator)
    done = [s for s in check_consecutive(sink.done(), sink) if s.time_base == tb]
    if done:
        plan.resume_pts, plan.resume_frame = done[-1].end_pts, done[-1].next_frame
    return done


def _run(src: Path, plan: _Plan, stylizer: FrameStylizer, batch_size: int, stabilize: bool,
         limits: VideoLimits, sink: SegmentSink, on_progress: ProgressCallback | None,
         cancel: CancelToken | None, segment_seconds: float) -> list[SegmentFile]:
    """Wire the three stages together; returns every committed segment, in order."""
    container, _ = open_clip(src)
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(maxsize=2 * batch_size + 4)   # frames at output size
    stylised: queue.Queue = queue.Queue(maxsize=batch_size + 4)
    with container:
        vstream = video_stream(container)
        vstream.thread_type = "AUTO"
        plan.time_base = vstream.time_base or Fraction(1, 90000)
        plan.frame_step = max(1, round(1 / (plan.fps * plan.time_base)))
        plan.base = round(plan.start_s / plan.time_base)
        done = _resume_point(sink, plan)
        stream_plan = StreamPlan(plan.width, plan.height, plan.fps, plan.time_base)
        writer = SegmentWriter(sink, stream_plan, max(1, round(segment_seconds * plan.fps)),
                               first_index=len(done), first_frame=plan.resume_frame)
        decoder = _Stage(lambda: _decode(container, vstream, plan, decoded, stop, limits,
                                         stabilize), "video-decode")
        encoder = _Stage(lambda: _encode(writer, plan, stylised, stop), "video-encode")
        blender = _primed_blender(sink, done) if stabilize else None
        decoder.start()
        encoder.start()
        try:
            _stylise(plan, stylizer, batch_size, blender, decoded, stylised, stop,
                     (decoder, encoder), on_progress, cancel)
            _put(stylised, _END, stop, (encoder,), cancel)
            _wait(encoder, cancel)
        finally:
            stop.set()
            decoder.join()
            encoder.join()
            writer.abandon()
        for stage in (decoder, encoder):
            if stage.error is not None:
                raise stage.error
    done = check_consecutive(sink.done(), sink)
    if not done:
        raise StyleTransferError("no frame of the video could be decoded; the file is damaged")
    return done


def _primed_blender(sink: SegmentSink, done: list[SegmentFile]) -> TemporalBlender:
    """The stabiliser, carrying on from the last frame of the last committed segment when a
    job resumes (so the join between runs does not flicker)."""
    blender = TemporalBlender()
    if done:
        rgb = last_frame(sink.file_for(done[-1]))
        blender.prime(torch.from_numpy(rgb).permute(2, 0, 1).float().div_(255.0))
    return blender


def _stylise(plan: _Plan, stylizer: FrameStylizer, batch_size: int,
             blender: TemporalBlender | None, decoded: queue.Queue, stylised: queue.Queue,
             stop: threading.Event, stages: tuple[_Stage, ...],
             on_progress: ProgressCallback | None, cancel: CancelToken | None) -> None:
    """The compute loop: batches of frames through the engine, then the temporal blend."""
    batch: list[tuple] = []
    started, done, previewed = time.perf_counter(), 0, 0.0
    while True:
        item = _get(decoded, stop, stages, cancel)
        if item is not _END:
            batch.append(item)
        if batch and (item is _END or len(batch) == batch_size):
            for rgb, pts, duration in _stylise_batch(plan, stylizer, batch, blender):
                _put(stylised, (rgb, pts, duration), stop, stages, cancel)
                done += 1
                if on_progress:
                    now = time.perf_counter()
                    preview = None
                    if now - previewed >= PREVIEW_EVERY_S:
                        previewed, preview = now, Image.fromarray(rgb)
                    _report(on_progress, plan, done, now - started, preview)
            batch = []
        if item is _END:
            break
    plan.timings["frames"] = done
    plan.timings["fps"] = done / max(time.perf_counter() - started, 1e-6)


def _stylise_batch(plan: _Plan, stylizer: FrameStylizer, batch: list[tuple],
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
        _add(plan, "stylise", time.perf_counter() - tick)
        for (_, pts, duration, step), output in zip(batch, outputs):
            tick = time.perf_counter()
            if blender is not None:
                output = blender.blend(output, step)
            rgb = output.float().clamp(0, 1).mul(255).round().byte()
            rgb = rgb.permute(1, 2, 0).contiguous().cpu().numpy()
            _add(plan, "blend", time.perf_counter() - tick)
            yield rgb, pts, duration


def _carry_frames(plan: _Plan, engine: Any, batch: list[tuple],
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
        _add(plan, "stylise", time.perf_counter() - tick)
        yield (output.mul(255).round().byte().permute(1, 2, 0).contiguous().cpu().numpy(),
               pts, duration)


def _report(on_progress: ProgressCallback, plan: _Plan, done: int, seconds: float,
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


def _decode(container: av.container.InputContainer, vstream: av.VideoStream, plan: _Plan,
            out: queue.Queue, stop: threading.Event, limits: VideoLimits,
            stabilize: bool) -> None:
    """Demux, decode and scale the stretch's frames (after a resume, the frames before the
    resume point are decoded only to warm the optical flow up)."""
    tracker = FlowTracker() if stabilize else None
    skip_to = plan.resume_pts
    if plan.base + skip_to > 0:      # a little before, so the flow sees the frame before
        _seek(container, vstream, max(0, plan.base + skip_to - 2 * plan.frame_step))
    count, last_pts = 0, None
    for frame in _frames(container, vstream, plan):
        if stop.is_set():
            return
        pts = frame.pts
        if pts is None or (last_pts is not None and pts <= last_pts):
            pts = 0 if last_pts is None else last_pts + plan.frame_step
        last_pts = pts
        rel = pts - plan.base
        if plan.end_s is not None and rel * plan.time_base >= plan.end_s - plan.start_s:
            break
        if rel < skip_to:                               # before the stretch, or already made
            if tracker is not None and rel >= skip_to - 4 * plan.frame_step:
                tracker.step(_upright_rgb(frame, plan))
            continue
        count += 1
        if count > limits.max_frames:
            raise StyleTransferError(f"the video has more than {limits.max_frames} frames; "
                                     f"the limit is {limits.max_frames}")
        tick = time.perf_counter()
        rgb = _upright_rgb(frame, plan)
        _add(plan, "decode", time.perf_counter() - tick)
        tick = time.perf_counter()
        step = tracker.step(rgb) if tracker else None
        _add(plan, "flow", time.perf_counter() - tick)
        _put(out, (rgb, rel, frame.duration or plan.frame_step, step), stop)
    _put(out, _END, stop)


def _seek(container: av.container.InputContainer, vstream: av.VideoStream, pts: int) -> None:
    """Jump to the keyframe at or before ``pts`` (a format that cannot seek is decoded from
    its start instead: the frames before ``pts`` are skipped either way)."""
    try:
        container.seek(pts, stream=vstream, backward=True)
    except (av.FFmpegError, OSError, ValueError):
        container.seek(0)


def _frames(container: av.container.InputContainer, vstream: av.VideoStream,
            plan: _Plan) -> Iterator[av.VideoFrame]:
    """The stream's frames in order; a decoding error is a damaged file."""
    decoded = 0
    for packet in container.demux(vstream):
        tick = time.perf_counter()
        try:
            frames = packet.decode()
        except av.FFmpegError as exc:
            raise StyleTransferError(f"the video is damaged; decoding stopped at frame "
                                     f"{decoded + 1} ({exc})") from exc
        _add(plan, "decode", time.perf_counter() - tick)
        for frame in frames:
            decoded += 1
            yield frame


def _upright_rgb(frame: av.VideoFrame, plan: _Plan) -> np.ndarray:
    width, height = plan.decode_size
    rgb = frame.to_ndarray(width=width, height=height, format="rgb24", interpolation="AREA")
    if plan.quarter_turns:
        rgb = np.ascontiguousarray(np.rot90(rgb, k=plan.quarter_turns))
    return rgb


def _encode(writer: SegmentWriter, plan: _Plan, items: queue.Queue,
            stop: threading.Event) -> None:
    """Stylised frames into segments; the last (shorter) one is closed at the end."""
    while True:
        item = _get(items, stop)
        if item is _END:
            break
        tick = time.perf_counter()
        writer.add(*item)
        _add(plan, "encode", time.perf_counter() - tick)
    tick = time.perf_counter()
    writer.finish()
    _add(plan, "encode", time.perf_counter() - tick)


def _put(target: queue.Queue, item: Any, stop: threading.Event,
         stages: tuple[_Stage, ...] = (), cancel: CancelToken | None = None) -> None:
    while True:
        _check(stop, stages, cancel)
        try:
            target.put(item, timeout=_POLL)
            return
        except queue.Full:
            continue


def _get(source: queue.Queue, stop: threading.Event, stages: tuple[_Stage, ...] = (),
         cancel: CancelToken | None = None) -> Any:
    while True:
        _check(stop, stages, cancel)
        try:
            return source.get(timeout=_POLL)
        except queue.Empty:
            continue


def _check(stop: threading.Event, stages: tuple[_Stage, ...],
           cancel: CancelToken | None) -> None:
    """Raise if the job was cancelled, a stage failed, or the job is stopping."""
    if cancel is not None and cancel.is_set():
        raise Cancelled("video stylisation cancelled")
    for stage in stages:
        if stage.error is not None:
            raise stage.error
    if stop.is_set():
        raise _Stopped()


class _Stopped(Exception):
    """Ends a stage quietly because the main loop is ending (cancelled or failed)."""


def _wait(stage: _Stage, cancel: CancelToken | None) -> None:
    while stage.is_alive():
        if cancel is not None and cancel.is_set():
            raise Cancelled("video stylisation cancelled")
        stage.join(timeout=_POLL)
    if stage.error is not None:
        raise stage.error


def _add(plan: _Plan, key: str, seconds: float) -> None:
    plan.timings[key] = plan.timings.get(key, 0.0) + seconds


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
