"""Checking an uploaded clip before a job is queued: what it is, and whether we accept it.

Uploads are opened only by the demuxers of real container formats (MP4/MOV, Matroska/WebM,
GIF, AVI), chosen from the file's magic bytes and passed to FFmpeg explicitly. FFmpeg's own
probing is never used on uploads, so a playlist posing as video (an HLS ``.m3u8`` or an
``ffconcat`` list naming ``file:///etc/passwd`` or an ``http://`` URL) is refused before any
demuxer that could follow it is ever opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import av

from app.engine.errors import StyleTransferError

if TYPE_CHECKING:
    from app.settings import Settings

# ISO base media "ftyp" brands that are still images (HEIF/AVIF), not clips.
# What the decoder's own words ("[Errno 1094995529] Invalid data found ...") become; the
# exception stays chained for the log.
DAMAGED = ("the video is damaged or truncated (part of it is missing or garbled), so it "
           "cannot be read; export it again and retry")
_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"mif1", b"msf1", b"avif", b"avis"}
# Boxes that may open an old QuickTime file that has no "ftyp".
_QUICKTIME_BOXES = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
# Demuxer names as FFmpeg knows them (each matches one name of a comma-separated demuxer).
DEMUXERS = {"mp4": "mov", "matroska": "matroska", "gif": "gif", "avi": "avi"}


@dataclass(frozen=True)
class VideoLimits:
    """What a clip may be; :meth:`from_settings` reads the ``max_video_*`` settings."""

    max_seconds: float = 120.0
    max_frames: int = 3600
    max_side: int = 1920
    max_bytes: int = 200 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: "Settings") -> "VideoLimits":
        return cls(max_seconds=settings.max_video_seconds,
                   max_frames=settings.max_video_frames,
                   max_side=settings.max_video_side,
                   max_bytes=settings.max_upload_mb * 1024 * 1024)


@dataclass(frozen=True)
class VideoInfo:
    """A clip as a person sees it: ``width``/``height`` are after rotation."""

    width: int
    height: int
    fps: float
    duration: float            # seconds
    frame_count: int           # counted from the packets (exact for MP4; estimated for GIF)
    has_audio: bool
    audio_codec: str | None
    rotation: int              # degrees the stored frames turn counter-clockwise to be upright
    container: str             # mp4, matroska, gif or avi
    video_codec: str = ""


def sniff_container(path: Path) -> str | None:
    """``mp4``, ``matroska``, ``gif`` or ``avi`` from the file's first bytes, else ``None``."""
    with open(path, "rb") as handle:
        head = handle.read(16)
    if head[4:8] == b"ftyp":
        return None if head[8:12] in _IMAGE_BRANDS else "mp4"
    if head[4:8] in _QUICKTIME_BOXES and int.from_bytes(head[:4], "big") >= 8:
        return "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    return None


def is_video_file(path: Path) -> bool:
    """True when ``path`` is a clip by its magic bytes; a GIF counts only when animated."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return False
    kind = sniff_container(path)
    if kind != "gif":
        return kind is not None
    from PIL import Image

    try:
        with Image.open(path) as image:
            return getattr(image, "n_frames", 1) > 1
    except (OSError, ValueError, SyntaxError):
        return False


def open_clip(path: Path) -> tuple[av.container.InputContainer, str]:
    """Open ``path`` with the demuxer its magic bytes name (and only local file access);
    raises :class:`StyleTransferError` for anything that is not a supported container."""
    path = Path(path)
    if not path.is_file():
        raise StyleTransferError(f"video {path.name!r} does not exist")
    if path.stat().st_size == 0:
        raise StyleTransferError("the video is an empty file")
    kind = sniff_container(path)
    if kind is None:
        raise StyleTransferError(
            "the file is not a video we can read; upload an MP4, MOV, WebM, MKV, AVI or GIF")
    try:
        container = av.open(str(path), mode="r", format=DEMUXERS[kind],
                            options={"protocol_whitelist": "file", "enable_drefs": "0"})
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise StyleTransferError(DAMAGED) from exc
    return container, kind


def video_stream(container: av.container.InputContainer) -> av.VideoStream:
    """The clip's main picture stream (cover art does not count)."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            if stream.codec_context is None:     # a codec FFmpeg does not know: damaged
                raise StyleTransferError("the video's picture stream cannot be decoded "
                                         "(an unknown codec, or the file is damaged)")
            return stream
    raise StyleTransferError("the file has no pictures in it, no video stream (is it a "
                             "sound file?)")


def inspect_video(path: Path, limits: "VideoLimits | Settings") -> VideoInfo:
    """Describe the clip at ``path`` or raise :class:`StyleTransferError` with a message a
    person can act on: not a video, damaged, or over ``limits`` (duration, frames, frame side,
    bytes). Reads the headers, counts the packets and decodes the first frame only."""
    limits = limits if isinstance(limits, VideoLimits) else VideoLimits.from_settings(limits)
    path = Path(path)
    size = path.stat().st_size if path.is_file() else 0
    if size > limits.max_bytes:
        raise StyleTransferError(f"the video is {size / 2**20:.0f} MiB; the limit is "
                                 f"{limits.max_bytes / 2**20:.0f} MiB")
    container, kind = open_clip(path)
    with container:
        stream = video_stream(container)
        fps = _frame_rate(stream)
        _check_header(container, stream, fps, limits)
        frames, last_time = _count_packets(container, stream, limits)
        first = _first_frame(container, stream)
        rotation = _rotation(first)
        width, height = display_size(first.width, first.height, stream, rotation)
        if max(width, height) > limits.max_side:
            raise StyleTransferError(f"the video is {width}x{height}; the limit is "
                                     f"{limits.max_side} pixels on the longer side")
        audio = container.streams.audio[0] if container.streams.audio else None
        duration = _header_seconds(container, stream) or last_time + 1 / fps
        return VideoInfo(width=width, height=height, fps=fps, duration=duration,
                         frame_count=frames, has_audio=audio is not None,
                         audio_codec=audio.codec_context.name if audio else None,
                         rotation=rotation, container=kind,
                         video_codec=stream.codec_context.name)


def display_size(width: int, height: int, stream: av.VideoStream,
                 rotation: int) -> tuple[int, int]:
    """Stored frame size to the size a player shows: sample aspect ratio, then rotation."""
    sar = stream.sample_aspect_ratio
    if sar and sar > 0 and sar != 1:
        width = max(1, round(width * float(sar)))
    return (height, width) if rotation % 180 else (width, height)


def _frame_rate(stream: av.VideoStream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and 0 < rate < 1000:
            return float(rate)
    return 25.0


def _header_seconds(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return 0.0


def _check_header(container: av.container.InputContainer, stream: av.VideoStream, fps: float,
                  limits: VideoLimits) -> None:
    """Refuse what the header already says is too big, before reading any packets."""
    seconds = _header_seconds(container, stream)
    if seconds > limits.max_seconds:
        raise StyleTransferError(f"the video is {_clock(seconds)} long; the limit is "
                                 f"{limits.max_seconds:g} seconds")
    declared = stream.frames or round(seconds * fps)
    if declared > limits.max_frames:
        raise StyleTransferError(f"the video has {declared} frames; the limit is "
                                 f"{limits.max_frames}")
    width, height = stream.codec_context.width, stream.codec_context.height
    if width <= 0 or height <= 0:
        raise StyleTransferError("the video stream has no picture size; the file is damaged")
    if max(width, height) > limits.max_side:
        raise StyleTransferError(f"the video is {width}x{height}; the limit is "
                                 f"{limits.max_side} pixels on the longer side")


def _count_packets(container: av.container.InputContainer, stream: av.VideoStream,
                   limits: VideoLimits) -> tuple[int, float]:
    """Count the picture packets (no decoding) so a lying or cut-off header is caught."""
    count, last_time = 0, 0.0
    try:
        for packet in container.demux(stream):
            if packet.size == 0 and packet.pts is None:   # the flush packet at the end
                continue
            if packet.is_corrupt:
                raise StyleTransferError("the video is damaged or truncated (a frame is cut short)")
            count += 1
            if packet.pts is not None and packet.time_base:
                last_time = max(last_time, float(packet.pts * packet.time_base))
            if count > limits.max_frames:
                raise StyleTransferError(f"the video has more than {limits.max_frames} "
                                         f"frames; the limit is {limits.max_frames}")
            if last_time > limits.max_seconds:
                raise StyleTransferError(f"the video is longer than {limits.max_seconds:g} "
                                         f"seconds; the limit is {limits.max_seconds:g}")
    except av.FFmpegError as exc:
        raise StyleTransferError(DAMAGED) from exc
    if count == 0:
        raise StyleTransferError("the video stream has no frames")
    if stream.frames and count < stream.frames:
        raise StyleTransferError(f"the video is truncated (cut off): only {count} of its "
                                 f"{stream.frames} frames are in the file")
    container.seek(0)
    return count, last_time


def _first_frame(container: av.container.InputContainer,
                 stream: av.VideoStream) -> av.VideoFrame:
    try:
        for frame in container.decode(stream):
            return frame
    except av.FFmpegError as exc:
        raise StyleTransferError(DAMAGED) from exc
    raise StyleTransferError("the video's frames cannot be decoded; the file is damaged")


def _rotation(frame: av.VideoFrame) -> int:
    """The frame's display rotation snapped to a quarter turn (0, 90, 180 or 270)."""
    return int(round((frame.rotation or 0) / 90.0)) % 4 * 90


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"




__all__ = ["VideoInfo", "VideoLimits", "inspect_video", "is_video_file", "open_clip",
           "sniff_container", "video_stream", "display_size"]
