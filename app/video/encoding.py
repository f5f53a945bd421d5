"""The encode stage: stylised frames into segment files, H.264, yuv420p, a fresh encoder
per segment.

A new segment starts every ``segment_frames`` frames, so each one opens with a keyframe and
stands on its own; it is written to a temporary name beside its final one, fsynced, renamed
and then committed to the :class:`~app.video.segments.SegmentSink`.

Encoder settings (measured with ``python -m bench.video``, see docs/video.md): CRF 18, preset
``veryfast``, ``tune=film``; the keyframe interval is the segment itself.
"""

from __future__ import annotations

import queue
import secrets
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import av
import numpy as np

from app.storage import TEMP_PREFIX
from app.video.segments import SegmentFile, SegmentSink, fsync_rename
from app.video.stages import END, ClipPlan, get

# A constant quantiser, with keyframes six steps finer (ipratio 4): a still block is coded
# the same way in every segment, and the keyframe that opens a segment reproduces the
# frame before it closely, so segment joins do not pop (python -m bench.video --only
# flicker; docs/video.md). CRF 18 left joins at 3x the flicker of their neighbours.
X264_OPTIONS = {"qp": "18", "preset": "veryfast", "tune": "film",
                "x264-params": "ipratio=4"}


@dataclass(frozen=True)
class StreamPlan:
    """What every segment of one clip shares: size, rate and time base."""

    width: int
    height: int
    fps: float
    time_base: Fraction


class SegmentWriter:
    """Takes frames in order and writes them as committed segments."""

    def __init__(self, sink: SegmentSink, plan: StreamPlan, segment_frames: int,
                 first_index: int = 0, first_frame: int = 0,
                 on_commit: Callable[[SegmentFile], None] | None = None) -> None:
        self.sink, self.plan, self.segment_frames = sink, plan, max(1, segment_frames)
        self.index, self.next_frame, self.on_commit = first_index, first_frame, on_commit
        self._open: dict[str, Any] | None = None

    def add(self, rgb: np.ndarray, pts: int, duration: int) -> None:
        """Encode one frame (``pts`` in the plan's time base, relative to the clip's start)."""
        if self._open is None:
            self._start(pts)
        state = self._open
        assert state is not None
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts, frame.duration, frame.time_base = pts, duration, self.plan.time_base
        state["container"].mux(state["stream"].encode(frame.reformat(format="yuv420p")))
        state["frames"] += 1
        state["end_pts"] = pts + max(1, duration)
        if state["frames"] >= self.segment_frames:
            self.finish()

    def finish(self) -> SegmentFile | None:
        """Close the segment being written (if any): flush, fsync, rename, commit."""
        state, self._open = self._open, None
        if state is None:
            return None
        try:
            state["container"].mux(state["stream"].encode(None))
            state["container"].close()
            fsync_rename(state["temp"], state["final"])
        except BaseException:
            state["temp"].unlink(missing_ok=True)
            raise
        tb = self.plan.time_base
        segment = SegmentFile(index=self.index, path=state["name"], first_frame=self.next_frame,
                              frames=state["frames"], start_pts=state["start_pts"],
                              end_pts=state["end_pts"], time_base=(tb.numerator, tb.denominator))
        self.sink.commit(segment)
        self.index, self.next_frame = self.index + 1, segment.next_frame
        if self.on_commit is not None:
            self.on_commit(segment)
        return segment

    def abandon(self) -> None:
        """Drop the segment being written (a failure or a cancel): nothing half-written stays."""
        state, self._open = self._open, None
        if state is not None:
            try:
                state["container"].close()
            except Exception:  # noqa: BLE001 - the file goes anyway
                pass
            state["temp"].unlink(missing_ok=True)

    def _start(self, pts: int) -> None:
        name, final = self.sink.new_file(self.index)
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = final.with_name(f"{TEMP_PREFIX}{secrets.token_hex(8)}-{final.name}")
        container = av.open(str(temp), mode="w", format="mp4")
        stream = container.add_stream("libx264", rate=Fraction(self.plan.fps)
                                      .limit_denominator(100000))
        stream.width, stream.height, stream.pix_fmt = self.plan.width, self.plan.height, "yuv420p"
        stream.codec_context.time_base = self.plan.time_base
        stream.time_base = self.plan.time_base
        stream.options = dict(X264_OPTIONS)
        self._open = {"name": name, "final": final, "temp": temp, "container": container,
                      "stream": stream, "frames": 0, "start_pts": pts, "end_pts": pts}


def last_frame(path: Path) -> np.ndarray:
    """The last frame of a segment file as RGB uint8, as a viewer sees it (decoded): the
    frame the next segment's temporal chain continues from, in the same run or after a
    resume (:mod:`app.video.pipeline`)."""
    with av.open(str(path)) as container:
        frame = None
        for frame in container.decode(video=0):
            pass
        if frame is None:
            raise ValueError(f"{path.name} holds no frame")
        return rgb_from_yuv420p(frame.to_ndarray(format="yuv420p"))


def rgb_from_yuv420p(planes: np.ndarray) -> np.ndarray:
    """A yuv420p frame ((H * 3 / 2, W) planes, BT.601 limited range as the encoder is
    given it) as RGB uint8, rounded to nearest.

    FFmpeg's own conversion (swscale without its accurate-rounding flag) comes out 1.25
    grey levels darker on average; a chain that continues from decoded frames at every
    segment join would darken by that much at each one. This one takes a frame through
    encode and decode to within a tenth of a level the second time round."""
    height = planes.shape[0] * 2 // 3
    width = planes.shape[1]
    luma = planes[:height].astype(np.float32)
    chroma = planes[height:].reshape(2, height // 2, width // 2).astype(np.float32)
    u, v = (np.repeat(np.repeat(c, 2, axis=0), 2, axis=1) for c in chroma)
    c, d, e = (luma - 16) * 255 / 219, (u - 128) * 255 / 224, (v - 128) * 255 / 224
    rgb = np.stack((c + 1.402 * e, c - 0.344136 * d - 0.714136 * e, c + 1.772 * d), axis=-1)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def encode_stage(writer: SegmentWriter, plan: ClipPlan, items: queue.Queue,
                 stop: threading.Event) -> None:
    """Stylised frames into segments; the last (shorter) one is closed at the end."""
    while True:
        item = get(items, stop)
        if item is END:
            break
        tick = time.perf_counter()
        writer.add(*item)
        plan.add_time("encode", time.perf_counter() - tick)
    tick = time.perf_counter()
    writer.finish()
    plan.add_time("encode", time.perf_counter() - tick)
