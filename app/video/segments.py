"""A clip's output in segments: each committed durably, joined without re-encoding at the end.

The pipeline encodes the stylised frames into consecutive MP4 files of a few seconds each
(every one starts with a keyframe: it has an encoder of its own). A segment is written to a
temporary name, fsynced and renamed, then *committed* — the job row records its frame range —
so a job stopped by a crash or a restart continues after its last committed segment instead
of from frame 0. At the end the segments' packets are copied, in order, into one MP4 with the
sound of the same stretch of the source (copied, or re-encoded to AAC) and the index first
(``+faststart``). Nothing half-written is ever under a final name.

Timestamps are the source's, less the start of the stretch being made (a trimmed clip starts
at 0), in the source video stream's time base, so joining needs no retiming.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import av

from app.engine.errors import StyleTransferError

COPYABLE_AUDIO = ("aac", "mp3")


@dataclass(frozen=True)
class SegmentFile:
    """One committed segment: ``frames`` frames from output frame ``first_frame``, with
    timestamps ``start_pts`` up to (not including) ``end_pts`` in ``time_base``."""

    index: int
    path: str                      # where it is (the sink decides: absolute or media-relative)
    first_frame: int
    frames: int
    start_pts: int
    end_pts: int
    time_base: tuple[int, int]     # (numerator, denominator)

    @property
    def next_frame(self) -> int:
        return self.first_frame + self.frames

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SegmentFile":
        return cls(**{**data, "time_base": tuple(data["time_base"])})


class SegmentSink(Protocol):
    """Where a clip's segments go and how a commit is made durable (the job runner records
    them in the job row; the command line keeps them in a temporary folder)."""

    def done(self) -> list[SegmentFile]:
        """Segments committed by earlier runs of this job, in order."""
        ...

    def file_for(self, segment: SegmentFile) -> Path:
        """The file of ``segment``."""
        ...

    def new_file(self, index: int) -> tuple[str, Path]:
        """(the name to record, the file) for a new segment ``index``."""
        ...

    def commit(self, segment: SegmentFile) -> None:
        """Record ``segment`` once its file is durably in place."""
        ...


class FolderSegments:
    """Segments in a folder, committed in memory only (no resume): for one-off runs."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.committed: list[SegmentFile] = []

    def done(self) -> list[SegmentFile]:
        return list(self.committed)

    def file_for(self, segment: SegmentFile) -> Path:
        return Path(segment.path)

    def new_file(self, index: int) -> tuple[str, Path]:
        path = self.folder / f"seg-{index:05d}.mp4"
        return str(path), path

    def commit(self, segment: SegmentFile) -> None:
        self.committed.append(segment)


def check_consecutive(segments: list[SegmentFile], sink: SegmentSink) -> list[SegmentFile]:
    """The committed segments that form an unbroken run from frame 0 with their files
    present (a later segment after a gap or a missing file is dropped, to be made again)."""
    kept: list[SegmentFile] = []
    for segment in segments:
        expected = kept[-1].next_frame if kept else 0
        if segment.first_frame != expected or not sink.file_for(segment).is_file():
            break
        kept.append(segment)
    return kept


def fsync_rename(temp: Path, final: Path) -> None:
    """Make ``temp`` durable, then give it its final name (and make the rename durable)."""
    with open(temp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, final)
    fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def join_segments(files: list[Path], dst: Path, audio_from: Path | None = None,
                  window: tuple[float, float | None] = (0.0, None)) -> None:
    """Copy the segments' video packets, in order, into one MP4 at ``dst`` (index first), with
    the sound of ``audio_from`` between ``window`` seconds (start, end or None) added: copied
    packet for packet when MP4 can hold it, else re-encoded to AAC."""
    if not files:
        raise StyleTransferError("no frame of the video could be made")
    with av.open(str(dst), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
        with av.open(str(files[0])) as first:
            template = first.streams.video[0]
            video = out.add_stream_from_template(template)
        audio = _AudioCopy(out, audio_from, window) if audio_from is not None else None
        for path in files:
            with av.open(str(path)) as segment:
                stream = segment.streams.video[0]
                for packet in segment.demux(stream):
                    if packet.size == 0:
                        continue
                    packet.stream = video
                    out.mux(packet)
        if audio is not None:
            audio.copy()


class _AudioCopy:
    """The sound of a stretch of the source, into the joined file."""

    def __init__(self, out: Any, source: Path, window: tuple[float, float | None]) -> None:
        from app.video.probe import open_clip

        self.out, self.source, (self.start, self.end) = out, source, window
        self.container, _ = open_clip(source)      # its own demuxer only, as for uploads
        streams = self.container.streams.audio
        self.input = streams[0] if streams else None
        self.stream: Any = None
        if self.input is None:
            return
        self.mode = "copy" if self.input.codec_context.name in COPYABLE_AUDIO else "encode"
        if self.mode == "copy":
            self.stream = out.add_stream_from_template(self.input)
        else:
            rate = self.input.codec_context.sample_rate or 48000
            self.stream = out.add_stream("aac", rate=rate)
            self.stream.layout = "stereo" if self.input.codec_context.channels >= 2 else "mono"

    def copy(self) -> None:
        try:
            if self.stream is None:
                return
            if self.mode == "copy":
                self._copy_packets()
            else:
                self._encode_frames()
        finally:
            self.container.close()

    def _in_window(self, seconds: float) -> bool:
        return seconds >= self.start - 1e-6 and (self.end is None or seconds < self.end)

    def _copy_packets(self) -> None:
        """The packets of the window, and the one before it: the decoder needs it to start
        (an AAC frame overlaps the one before). It goes in with a negative time, which the
        MP4 muxer covers with an edit list, as the encoder's own priming packet (pts -1024)
        comes in: an untrimmed clip keeps every packet of its sound, to the byte."""
        time_base = self.input.time_base or Fraction(1, self.input.codec_context.sample_rate)
        shift = round(self.start / time_base)
        before = None
        for packet in self.container.demux(self.input):
            if packet.pts is None or packet.size == 0:
                continue
            seconds = float(packet.pts * time_base)
            if seconds < self.start - 1e-6:
                before = packet
                continue
            if not self._in_window(seconds):
                continue
            if before is not None:
                self._mux(before, shift)
                before = None
            self._mux(packet, shift)

    def _mux(self, packet: Any, shift: int) -> None:
        packet.pts -= shift
        packet.dts = packet.pts if packet.dts is None else packet.dts - shift
        packet.stream = self.stream
        self.out.mux(packet)

    def _encode_frames(self) -> None:
        for frame in self.container.decode(self.input):
            if frame.time is None or not self._in_window(frame.time):
                continue
            frame.pts = None       # the AAC encoder re-times samples in its own frame size
            self.out.mux(self.stream.encode(frame))
        self.out.mux(self.stream.encode(None))
