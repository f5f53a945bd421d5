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

X264_OPTIONS = {"crf": "18", "preset": "veryfast", "tune": "film"}


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
    """The last frame of a segment file as RGB uint8 (to continue the stabilisation after a
    resume)."""
    with av.open(str(path)) as container:
        frame = None
        for frame in container.decode(video=0):
            pass
        if frame is None:
            raise ValueError(f"{path.name} holds no frame")
        return frame.to_ndarray(format="rgb24")


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
