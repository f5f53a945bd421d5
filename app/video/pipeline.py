"""Stylising a clip: the orchestration of decode, stylise and encode, in segments, joined.

Three stages run at once around bounded queues, so memory stays flat for any clip length:

    decode thread  ->  [frames]  ->  this thread: stylise + blend  ->  [frames]  ->  encode thread

(:mod:`app.video.decoding`, :mod:`app.video.stylising`, :mod:`app.video.encoding`; the
threads and queues in :mod:`app.video.stages`). The encode thread writes the output as
segments of about :data:`SEGMENT_SECONDS` each, each committed durably to a
:class:`~app.video.segments.SegmentSink`; a job that was stopped part-way continues after its
last committed segment (the frames before it are only decoded again, to warm the optical flow
up, never stylised again). At the end the segments are joined without re-encoding, with the
sound of the same stretch of the source (:func:`~app.video.segments.join_segments`). Frame
timestamps are carried over from the input (variable frame rate survives), frames are turned
upright from the rotation metadata, and ``trim`` makes only a stretch of the clip. The result
goes to a temporary name beside ``dst``, is fsynced and renamed; a failure or a cancellation
leaves nothing half-written behind.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import tempfile
import threading
import time
import uuid
from fractions import Fraction
from pathlib import Path

from app.engine.errors import StyleTransferError
from app.engine.images import fit_size
from app.engine.types import CancelToken, FrameStylizer, Progress, ProgressCallback
from app.storage import TEMP_PREFIX
from app.video.decoding import decode_stage
from app.video.encoding import SegmentWriter, StreamPlan, encode_stage, last_frame
from app.video.probe import VideoInfo, VideoLimits, inspect_video, open_clip, video_stream
from app.video.segments import (COPYABLE_AUDIO, FolderSegments, SegmentFile, SegmentSink,
                                check_consecutive, fsync_rename, join_segments)
from app.video.stages import END, ClipPlan, Piece, Stage, put, wait_for
from app.video.stylising import SegmentJoins, stylise_stage
from app.video.flow import FlowTracker
from app.video.temporal import Stabiliser

log = logging.getLogger("dreamgen.video")

MIN_OUTPUT_SIDE = 16       # the engines' smallest frame side (AdaIN: relu4_1 at 1/8)
SEGMENT_SECONDS = 8.0      # a crash costs at most this much of the clip; each segment starts
                           # with a keyframe, which shows as a small pop, so not much shorter
OVERLAP_FRAMES = 4         # a piece re-seeds the temporal chain on this many frames before it


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
    plan = make_plan(info, max_side, check_trim(info, trim))
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
    if not info.has_audio:
        return None
    return info.audio_codec if info.audio_codec in COPYABLE_AUDIO else "aac"


def make_plan(info: VideoInfo, max_side: int, window: tuple[float, float | None]) -> ClipPlan:
    """The output size, orientation and stretch of ``info``'s clip at ``max_side``."""
    width, height = fit_size(info.width, info.height, max_side)
    turns = info.rotation // 90
    decode_size = (height, width) if turns % 2 else (width, height)
    start, end = window
    seconds = (end if end is not None else info.duration) - start
    share = seconds / info.duration if info.duration > 0 else 1.0
    return ClipPlan(width=width, height=height, decode_size=decode_size, quarter_turns=turns,
                    fps=info.fps, start_s=start, end_s=end,
                    total=max(1, round(info.frame_count * min(1.0, share))))


def _join(src: Path, dst: Path, sink: SegmentSink, done: list[SegmentFile],
          plan: ClipPlan) -> None:
    temp = dst.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex[:16]}-{dst.name}")
    try:
        tick = time.perf_counter()
        join_segments([sink.file_for(s) for s in done], temp, audio_from=src,
                      window=(plan.start_s, plan.end_s))
        fsync_rename(temp, dst)
        plan.add_time("join", time.perf_counter() - tick)
    finally:
        temp.unlink(missing_ok=True)


def _resume_point(sink: SegmentSink, plan: ClipPlan) -> list[SegmentFile]:
    """The segments earlier runs committed that this run keeps (same time base, unbroken)."""
    tb = (plan.time_base.numerator, plan.time_base.denominator)
    done = [s for s in check_consecutive(sink.done(), sink) if s.time_base == tb]
    if done:
        plan.resume_pts, plan.resume_frame = done[-1].end_pts, done[-1].next_frame
    return done


def _run(src: Path, plan: ClipPlan, stylizer: FrameStylizer, batch_size: int, stabilize: bool,
         limits: VideoLimits, sink: SegmentSink, on_progress: ProgressCallback | None,
         cancel: CancelToken | None, segment_seconds: float,
         piece: Piece | None = None) -> list[SegmentFile]:
    """Wire the three stages together; returns every committed segment, in order (of a
    ``piece``: its one segment)."""
    container, _ = open_clip(src)
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(maxsize=2 * batch_size + 4)   # frames at output size
    stylised: queue.Queue = queue.Queue(maxsize=batch_size + 4)
    joins: queue.Queue = queue.Queue()        # each committed segment's last frame, decoded
    with container:
        vstream = video_stream(container)
        vstream.thread_type = "AUTO"
        plan.time_base = vstream.time_base or Fraction(1, 90000)
        plan.frame_step = max(1, round(1 / (plan.fps * plan.time_base)))
        plan.base = round(plan.start_s / plan.time_base)
        done = _resume_point(sink, plan) if piece is None else _piece_point(plan, piece)
        stream_plan = StreamPlan(plan.width, plan.height, plan.fps, plan.time_base)
        segment_frames = max(1, round(segment_seconds * plan.fps))
        if piece is None:
            writer = SegmentWriter(sink, stream_plan, segment_frames, first_index=len(done),
                                   first_frame=plan.resume_frame,
                                   on_commit=lambda s: joins.put(last_frame(sink.file_for(s)))
                                   if stabilize else None)
        else:                             # one segment, whatever its length
            segment_frames = plan.total + limits.max_frames
            writer = SegmentWriter(sink, stream_plan, segment_frames, first_index=piece.number,
                                   first_frame=piece.first_frame)
        tracker = FlowTracker(consistency=bool(getattr(stylizer, "wants_consistency", False))
                              ) if stabilize else None
        decoder = Stage(lambda: decode_stage(container, vstream, plan, decoded, stop, limits,
                                             tracker), "video-decode")
        encoder = Stage(lambda: encode_stage(writer, plan, stylised, stop), "video-encode")
        stabiliser = _primed_stabiliser(sink, done) if stabilize else None
        decoder.start()
        encoder.start()
        try:
            carry = SegmentJoins(segment_frames, joins, stop, (decoder, encoder), cancel)
            stylise_stage(plan, stylizer, batch_size, stabiliser, carry, decoded, stylised,
                          stop, (decoder, encoder), on_progress, cancel)
            put(stylised, END, stop, (encoder,), cancel)
            wait_for(encoder, cancel)
        finally:
            stop.set()
            decoder.join()
            encoder.join()
            writer.abandon()
        for stage in (decoder, encoder):
            if stage.error is not None:
                raise stage.error
    done = check_consecutive(sink.done(), sink) if piece is None else sink.done()
    if not done:
        raise StyleTransferError("no frame of the video could be decoded; the file is damaged")
    return done


def _piece_point(plan: ClipPlan, piece: Piece) -> list[SegmentFile]:
    """A piece is made from its own keyframe: stylised from a few frames before its start
    (:data:`OVERLAP_FRAMES`: the temporal chain — the stabiliser's blend, a painterly
    engine's previous painting — is re-seeded on them, so the seam with the piece before,
    made by another worker, does not show), kept from its start, up to its end. Progress is
    counted within the piece."""
    plan.resume_pts, plan.stop_pts = piece.start_pts, piece.end_pts
    plan.lead_pts = max(0, piece.start_pts - OVERLAP_FRAMES * plan.frame_step)
    plan.total = max(1, piece.frames)
    return []


def _primed_stabiliser(sink: SegmentSink, done: list[SegmentFile]) -> Stabiliser:
    """The stabiliser, carrying on from the last frame of the last committed segment when a
    job resumes, as every segment join does (so the join between runs is like any other,
    and an engine that starts each frame from the previous one continues its chain instead
    of starting afresh)."""
    stabiliser = Stabiliser()
    if done:
        stabiliser.prime(last_frame(sink.file_for(done[-1])))
        log.info("carrying on from the frame committed with segment %d (frame %d)",
                 done[-1].index, done[-1].next_frame - 1)
    return stabiliser
