"""Stylising a whole clip with PyAV: decode, stylise in batches, stabilise, encode H.264.

Three stages run at once around bounded queues, so memory stays flat for any clip length:

    decode thread  ->  [frames + audio]  ->  this thread: stylise + blend  ->  [frames + audio]
                                                                     ->  encode thread (MP4)

The output is H.264 yuv420p in an MP4 with ``+faststart``; frame timestamps are carried over
from the input (variable frame rate survives); frames are turned upright from the rotation
metadata; the sound is copied packet for packet when MP4 can hold it (AAC, MP3), else
re-encoded to AAC. The file is written to a temporary name beside ``dst`` and renamed at the
end; a failure or a cancellation leaves nothing behind.
"""

from __future__ import annotations

import os
import queue
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
from app.storage import TEMP_PREFIX, fsync_dir, fsync_file
from app.video.probe import VideoInfo, VideoLimits, inspect_video, open_clip, video_stream
from app.video.temporal import FlowTracker, TemporalBlender

COPYABLE_AUDIO = ("aac", "mp3")
MIN_OUTPUT_SIDE = 16       # the engines' smallest frame side (AdaIN: relu4_1 at 1/8)
_END = object()
_POLL = 0.05  # seconds between checks of the cancel token while a queue is full or empty


@dataclass
class _Plan:
    """What the stages agree on before the first frame."""

    width: int                  # output size, upright
    height: int
    decode_size: tuple[int, int]  # size frames are scaled to before being turned upright
    quarter_turns: int          # np.rot90 turns that make a stored frame upright
    time_base: Fraction
    fps: float
    frame_step: int             # one frame's duration in time_base units
    total: int                  # expected frame count, for progress
    audio_mode: str | None      # "copy", "encode" or None
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


def stylize_video(src: Path, dst: Path, stylizer: FrameStylizer, max_side: int,
                  limits: VideoLimits, on_progress: ProgressCallback | None = None,
                  cancel: CancelToken | None = None, batch_size: int | None = None, *,
                  stabilize: bool = True, timings: dict[str, float] | None = None) -> VideoInfo:
    """Stylise the clip ``src`` with ``stylizer`` (its styles already encoded, see
    :func:`app.engine.dispatch.make_frame_stylizer`) into an MP4 at ``dst``, the longer side
    at most ``max_side``, and describe the result.

    ``stabilize`` turns the optical-flow blending of :mod:`app.video.temporal` on (the
    default); ``timings``, when given, is filled with seconds spent decoding, in optical
    flow, stylising, blending and encoding. The file is written to a temporary name beside
    ``dst`` (:data:`app.storage.TEMP_PREFIX`, which the crash sweep knows), fsynced and renamed.
    Raises :class:`StyleTransferError` for clips we refuse and :class:`Cancelled` soon after
    ``cancel`` is set.
    """
    info = inspect_video(Path(src), limits)
    check_output_size(info, max_side)
    plan = _make_plan(info, max_side)
    batch_size = batch_size or (8 if stylizer.device.type == "cuda" else 2)
    dst = Path(dst)
    temp = dst.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex[:16]}-{dst.name}")
    try:
        audio_codec = _run(Path(src), temp, plan, stylizer, batch_size, stabilize, limits,
                           on_progress, cancel)
        fsync_file(temp)
        os.replace(temp, dst)
        fsync_dir(dst.parent)
    finally:
        temp.unlink(missing_ok=True)
    if timings is not None:
        timings.update(plan.timings)
    done = int(plan.timings.get("frames", 0))
    if on_progress:
        on_progress(Progress(1.0, f"frame {done} of {done}",
                             extras={"fps": plan.timings.get("fps", 0.0)}))
    return VideoInfo(width=plan.width, height=plan.height, fps=info.fps,
                     duration=info.duration, frame_count=done, has_audio=audio_codec is not None,
                     audio_codec=audio_codec, rotation=0, container="mp4", video_codec="h264")


def check_output_size(info: VideoInfo, max_side: int) -> tuple[int, int]:
    """The output size of ``info``'s clip at ``max_side``; refuses one whose shorter side
    would be under :data:`MIN_OUTPUT_SIDE` (too thin for the engines and the optical flow)."""
    width, height = fit_size(info.width, info.height, max_side)
    if min(width, height) < MIN_OUTPUT_SIDE:
        raise StyleTransferError(
            f"the clip would come out {width}x{height} at {max_side} px; its shorter side must "
            f"be at least {MIN_OUTPUT_SIDE} px, so choose a larger output size")
    return width, height


def _make_plan(info: VideoInfo, max_side: int) -> _Plan:
    width, height = fit_size(info.width, info.height, max_side)
    turns = info.rotation // 90
    decode_size = (height, width) if turns % 2 else (width, height)
    audio_mode = None
    if info.has_audio:
        audio_mode = "copy" if info.audio_codec in COPYABLE_AUDIO else "encode"
    return _Plan(width=width, height=height, decode_size=decode_size, quarter_turns=turns,
                 time_base=Fraction(1, 1), fps=info.fps, frame_step=1,
                 total=max(1, info.frame_count), audio_mode=audio_mode)


def _run(src: Path, temp: Path, plan: _Plan, stylizer: FrameStylizer, batch_size: int,
         stabilize: bool, limits: VideoLimits, on_progress: ProgressCallback | None,
         cancel: CancelToken | None) -> str | None:
    """Wire the three stages together; returns the output's audio codec (or ``None``)."""
    container, _ = open_clip(src)
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(maxsize=2 * batch_size + 4)   # frames at output size
    stylised: queue.Queue = queue.Queue(maxsize=batch_size + 4)
    with container:
        vstream = video_stream(container)
        vstream.thread_type = "AUTO"
        astream = container.streams.audio[0] if plan.audio_mode else None
        plan.time_base = vstream.time_base or Fraction(1, 90000)
        plan.frame_step = max(1, round(1 / (plan.fps * plan.time_base)))
        decoder = _Stage(lambda: _decode(container, vstream, astream, plan, decoded, stop,
                                         limits, stabilize), "video-decode")
        encoder = _Stage(lambda: _encode(temp, plan, astream, stylised, stop), "video-encode")
        decoder.start()
        encoder.start()
        try:
            _stylise(plan, stylizer, batch_size, stabilize, decoded, stylised, stop,
                     (decoder, encoder), on_progress, cancel)
            _put(stylised, _END, stop, (encoder,), cancel)
            _join(encoder, cancel)
        finally:
            stop.set()
            decoder.join()
            encoder.join()
        for stage in (decoder, encoder):
            if stage.error is not None:
                raise stage.error
    if not plan.timings.get("frames"):
        raise StyleTransferError("no frame of the video could be decoded; the file is damaged")
    return ("aac" if plan.audio_mode == "encode" else astream.codec_context.name) \
        if astream is not None else None


def _stylise(plan: _Plan, stylizer: FrameStylizer, batch_size: int, stabilize: bool,
             decoded: queue.Queue, stylised: queue.Queue, stop: threading.Event,
             stages: tuple[_Stage, ...], on_progress: ProgressCallback | None,
             cancel: CancelToken | None) -> None:
    """The compute loop: batches of frames through the engine, then the temporal blend."""
    blender = TemporalBlender() if stabilize else None
    batch: list[tuple] = []
    started, done = time.perf_counter(), 0
    while True:
        item = _get(decoded, stop, stages, cancel)
        if item is not _END and item[0] == "audio":
            _put(stylised, item, stop, stages, cancel)
            continue
        if item is not _END:
            batch.append(item)
        if batch and (item is _END or len(batch) == batch_size):
            tick = time.perf_counter()
            frames = torch.from_numpy(np.stack([entry[1] for entry in batch]))
            if stylizer.device.type == "cuda":  # uint8 (4x smaller than float), pinned, async
                frames = frames.pin_memory()
            frames = frames.to(stylizer.device, non_blocking=True)
            frames = frames.permute(0, 3, 1, 2).float().div_(255.0)
            with torch.inference_mode():
                outputs = stylizer.stylize_frames(frames)
                _add(plan, "stylise", time.perf_counter() - tick)
                for (_, _, pts, duration, step), output in zip(batch, outputs):
                    tick = time.perf_counter()
                    if blender is not None:
                        output = blender.blend(output, step)
                    rgb = output.float().clamp(0, 1).mul(255).round().byte()
                    rgb = rgb.permute(1, 2, 0).contiguous().cpu().numpy()
                    _add(plan, "blend", time.perf_counter() - tick)
                    _put(stylised, ("video", rgb, pts, duration), stop, stages, cancel)
                    done += 1
                    if on_progress:
                        fps = done / max(time.perf_counter() - started, 1e-6)
                        on_progress(Progress(min(done / plan.total, 0.99),
                                             f"frame {done} of {max(done, plan.total)}",
                                             extras={"fps": round(fps, 2)}))
            batch = []
        if item is _END:
            break
    plan.timings["frames"] = done
    plan.timings["fps"] = done / max(time.perf_counter() - started, 1e-6)


def _decode(container: av.container.InputContainer, vstream: av.VideoStream,
            astream: av.AudioStream | None, plan: _Plan, out: queue.Queue,
            stop: threading.Event, limits: VideoLimits, stabilize: bool) -> None:
    """Demux, decode and scale frames; pass audio on (as packets or as decoded frames)."""
    tracker = FlowTracker() if stabilize else None
    streams = [s for s in (vstream, astream) if s is not None]
    count, last_pts = 0, None
    for packet in container.demux(*streams):
        if stop.is_set():
            return
        if packet.stream is astream:
            if plan.audio_mode == "copy" and packet.size and packet.pts is not None:
                _put(out, ("audio", packet), stop)
            elif plan.audio_mode == "encode":
                for frame in packet.decode():
                    _put(out, ("audio", frame), stop)
            continue
        tick = time.perf_counter()
        try:
            frames = packet.decode()
        except av.FFmpegError as exc:
            raise StyleTransferError(f"the video is damaged; decoding stopped at frame "
                                     f"{count + 1} ({exc})") from exc
        _add(plan, "decode", time.perf_counter() - tick)
        for frame in frames:
            count += 1
            if count > limits.max_frames:
                raise StyleTransferError(f"the video has more than {limits.max_frames} frames; "
                                         f"the limit is {limits.max_frames}")
            pts = frame.pts
            if pts is None or (last_pts is not None and pts <= last_pts):
                pts = 0 if last_pts is None else last_pts + plan.frame_step
            last_pts = pts
            tick = time.perf_counter()
            rgb = _upright_rgb(frame, plan)
            _add(plan, "decode", time.perf_counter() - tick)
            tick = time.perf_counter()
            step = tracker.step(rgb) if tracker else None
            _add(plan, "flow", time.perf_counter() - tick)
            _put(out, ("video", rgb, pts, frame.duration or plan.frame_step, step), stop)
    _put(out, _END, stop)


def _upright_rgb(frame: av.VideoFrame, plan: _Plan) -> np.ndarray:
    width, height = plan.decode_size
    rgb = frame.to_ndarray(width=width, height=height, format="rgb24", interpolation="AREA")
    if plan.quarter_turns:
        rgb = np.ascontiguousarray(np.rot90(rgb, k=plan.quarter_turns))
    return rgb


def _encode(temp: Path, plan: _Plan, astream: av.AudioStream | None, items: queue.Queue,
            stop: threading.Event) -> None:
    """H.264 yuv420p + the sound into an MP4 with the index (moov) at the front."""
    with av.open(str(temp), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
        video = out.add_stream("libx264", rate=Fraction(plan.fps).limit_denominator(100000))
        video.width, video.height, video.pix_fmt = plan.width, plan.height, "yuv420p"
        video.codec_context.time_base = plan.time_base
        video.time_base = plan.time_base
        video.options = {"crf": "20", "preset": "veryfast"}
        audio = _audio_output(out, astream, plan.audio_mode)
        while True:
            item = _get(items, stop)
            if item is _END:
                break
            tick = time.perf_counter()
            if item[0] == "audio":
                _mux_audio(out, audio, item[1], plan.audio_mode)
            else:
                frame = av.VideoFrame.from_ndarray(item[1], format="rgb24")
                frame.pts, frame.duration, frame.time_base = item[2], item[3], plan.time_base
                out.mux(video.encode(frame.reformat(format="yuv420p")))
            _add(plan, "encode", time.perf_counter() - tick)
        tick = time.perf_counter()
        out.mux(video.encode(None))
        if plan.audio_mode == "encode":
            out.mux(audio.encode(None))
        _add(plan, "encode", time.perf_counter() - tick)


def _audio_output(out: av.container.OutputContainer, astream: av.AudioStream | None,
                  mode: str | None) -> av.AudioStream | None:
    if astream is None or mode is None:
        return None
    if mode == "copy":
        return out.add_stream_from_template(astream)
    rate = astream.codec_context.sample_rate or 48000
    stream = out.add_stream("aac", rate=rate)
    stream.layout = "stereo" if astream.codec_context.channels >= 2 else "mono"
    return stream


def _mux_audio(out: av.container.OutputContainer, audio: av.AudioStream, item: Any,
               mode: str | None) -> None:
    if mode == "copy":
        item.stream = audio
        out.mux(item)
    else:
        item.pts = None   # the AAC encoder re-times samples in its own frame size
        out.mux(audio.encode(item))


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


def _join(stage: _Stage, cancel: CancelToken | None) -> None:
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
