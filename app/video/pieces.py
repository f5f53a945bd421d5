"""A clip in pieces that several workers make at once (:mod:`app.jobs.pieces` shares them out).

:func:`plan_pieces` cuts the stretch being made into pieces of about the segment length, at
frame boundaries in the source video stream's time base; :func:`stylize_piece` makes one of
them into one committed segment, from its own keyframe, with the temporal chain re-seeded on
a few frames before it (:func:`app.video.pipeline._piece_point`). The job's segments are
then joined as any clip's are, without re-encoding.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from app.engine.types import CancelToken, FrameStylizer, ProgressCallback
from app.video.pipeline import _run, check_output_size, check_trim, make_plan
from app.video.probe import VideoLimits, inspect_video, open_clip, video_stream
from app.video.segments import SegmentFile, SegmentSink
from app.video.stages import Piece

Trim = tuple[float | None, float | None] | None


def plan_pieces(src: Path, max_side: int, limits: VideoLimits, trim: Trim,
                segment_seconds: float) -> list[Piece]:
    """The pieces of ``src``'s stretch: each about ``segment_seconds`` long (the last one to
    the end of the stretch, up to half a piece longer), in order."""
    info = inspect_video(Path(src), limits)
    check_output_size(info, max_side)
    plan = make_plan(info, max_side, check_trim(info, trim))
    container, _ = open_clip(Path(src))
    with container:
        time_base = video_stream(container).time_base or Fraction(1, 90000)
    frame_step = max(1, round(1 / (plan.fps * time_base)))
    per_piece = max(1, round(segment_seconds * plan.fps))
    # the last piece runs to the end, between half a piece and a piece and a half long: an
    # expected frame count one too high (a trimmed stretch) never leaves it empty
    count = max(1, round(plan.total / per_piece))
    return [Piece(number=i, start_pts=i * per_piece * frame_step,
                  end_pts=(i + 1) * per_piece * frame_step if i < count - 1 else None,
                  first_frame=i * per_piece,
                  frames=per_piece if i < count - 1 else plan.total - i * per_piece)
            for i in range(count)]


def stylize_piece(src: Path, stylizer: FrameStylizer, max_side: int, limits: VideoLimits,
                  piece: Piece, sink: SegmentSink, trim: Trim = None,
                  on_progress: ProgressCallback | None = None,
                  cancel: CancelToken | None = None, batch_size: int | None = None, *,
                  stabilize: bool = True,
                  timings: dict[str, float] | None = None) -> SegmentFile:
    """Make ``piece`` of the clip ``src`` into one segment committed to ``sink``; progress
    is counted within the piece. Raises as :func:`app.video.pipeline.stylize_video`."""
    info = inspect_video(Path(src), limits)
    check_output_size(info, max_side)
    plan = make_plan(info, max_side, check_trim(info, trim))
    batch_size = batch_size or (8 if stylizer.device.type == "cuda" else 2)
    done = _run(Path(src), plan, stylizer, batch_size, stabilize, limits, sink, on_progress,
                cancel, segment_seconds=0.0, piece=piece)
    if timings is not None:
        timings.update(plan.timings)
    return done[-1]
