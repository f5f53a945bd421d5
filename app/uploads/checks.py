"""Upload validation, in a child process: real type from the bytes, full decode, limits.

Each uploaded file has been streamed to a temporary file in the media folder (never more
than the byte limit is read, by the web layer). One child process
(:func:`app.isolation.run_isolated`, from :func:`app.uploads.storing.store_uploads`) checks
them all: images are decoded completely (Pillow's decompression-bomb guard, the megapixel limit;
style images no larger than the engines use), turned upright from their EXIF orientation and
re-encoded without metadata, so a served upload never carries GPS or other EXIF; clips (MP4,
MOV, WebM, MKV, AVI, animated GIF) go through :func:`app.video.probe.inspect_video` and the
output-size check. A decoder that crashes (a hostile file) kills only that child: the upload is
refused with a 422 and the server carries on; the child's memory goes back to the system when
it exits. Nothing is stored for a refused file.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PIL import Image

from app.refusals import Refused
from app.video.probe import VideoLimits

try:  # HEIC/HEIF photos from phones, when pillow-heif is installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - depends on the install
    HEIF_SUPPORTED = False

_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif")
VIDEO_SUFFIXES = {"mp4": ".mp4", "matroska": ".mkv", "gif": ".gif", "avi": ".avi"}
ACCEPTED = "JPEG, PNG, WebP, GIF or HEIC"
STYLE_STORE_SIDE = 2048     # style images are kept no larger than any engine uses them
log = logging.getLogger("dreamgen.uploads")


@dataclass(frozen=True)
class UploadCheck:
    """One file for the checking child: where its bytes are and what it must be."""

    raw_path: str
    clean_path: str             # where an image's clean re-encode goes
    role: Literal["content", "style"]
    what: str                   # "the content file", "style image 2", ...
    max_megapixels: float
    video_limits: VideoLimits
    output_side: int            # the requested output size (clip geometry)
    trim: tuple[float | None, float | None] = (None, None)   # the stretch of a clip to make


@dataclass(frozen=True)
class Checked:
    """What the child found: the file's kind, the suffix to store it under, its size."""

    kind: Literal["image", "video"]
    suffix: str
    width: int
    height: int
    frames: int = 1             # a clip's frames in the stretch to make; 1 for a picture


def sniff_image(data: bytes) -> str | None:
    """``jpeg``, ``png``, ``webp``, ``gif`` or ``heif`` from the magic bytes, else None."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "heif"
    return None


def is_animated_gif(path: Path) -> bool:
    from app.engine.images import DECODE_ERRORS

    try:
        with Image.open(path) as image:
            return getattr(image, "n_frames", 1) > 1
    except (Image.DecompressionBombError, *DECODE_ERRORS):
        return False


# ----------------------------------------------------------------------------- in the child
def inspect_uploads(checks: list[UploadCheck]) -> list[Checked]:
    """Check every file of one request (runs in a child process)."""
    return [_inspect_guarded(check) for check in checks]


def _inspect_guarded(check: UploadCheck) -> Checked:
    """:func:`inspect_upload`, where anything a decoder library raises on a hostile file
    that our checks did not foresee is logged (with its traceback, for us to fix) and is a
    422 for the person, never a 500."""
    from app.engine.errors import StyleTransferError

    try:
        return inspect_upload(check)
    except StyleTransferError:
        raise
    except Exception as exc:  # noqa: BLE001 - the boundary between decoders and the user
        log.exception("unforeseen error checking %s", check.what)
        raise Refused(f"{check.what} could not be read; it is damaged or not what its "
                      "contents claim") from None


def inspect_upload(check: UploadCheck) -> Checked:
    """Decode and validate one file; an image's clean re-encode goes to ``clean_path``."""
    raw = Path(check.raw_path)
    with open(raw, "rb") as handle:
        head = handle.read(16)
    kind = sniff_image(head)
    if kind is not None and not (check.role == "content" and kind == "gif"
                                 and is_animated_gif(raw)):
        return _clean_image(check, kind)
    if check.role == "style":
        raise Refused(f"{check.what} is not an image we accept ({ACCEPTED})", 415)
    return _check_clip(check)


def _clean_image(check: UploadCheck, kind: str) -> Checked:
    from app.engine.images import check_style_shape, load_image

    if kind == "heif" and not HEIF_SUPPORTED:
        raise Refused(f"{check.what} is HEIC, which this server cannot read; "
                      "upload a JPEG or PNG", 415)
    max_side = STYLE_STORE_SIDE if check.role == "style" else None
    image = load_image(Path(check.raw_path), check.what, check.max_megapixels, max_side)
    if check.role == "style":
        with Image.open(check.raw_path) as original:     # its own size, before any shrinking
            check_style_shape(*original.size, check.what)
    clean = Image.new("RGB", image.size)     # a fresh image: no EXIF, ICC, text chunks
    clean.paste(image)
    buffer = io.BytesIO()
    if kind in ("jpeg", "heif"):
        clean.save(buffer, "JPEG", quality=95)
        suffix = ".jpg"
    else:
        clean.save(buffer, "PNG", compress_level=3)   # a third of level 6's time, ~same size
        suffix = ".png"
    Path(check.clean_path).write_bytes(buffer.getvalue())
    return Checked("image", suffix, clean.width, clean.height)


def _check_clip(check: UploadCheck) -> Checked:
    from app.video.pipeline import check_output_size, check_trim
    from app.video.probe import inspect_video, sniff_container

    container = sniff_container(Path(check.raw_path))
    if container is None:
        raise Refused(f"{check.what} is not an image ({ACCEPTED}) or a video "
                      "(MP4, MOV, WebM, MKV, AVI, animated GIF)", 415)
    info = inspect_video(Path(check.raw_path), check.video_limits)
    check_output_size(info, check.output_side)
    start, end = check_trim(info, check.trim)
    stretch = (end if end is not None else info.duration) - start
    frames = min(info.frame_count, max(1, math.ceil(stretch * info.fps - 1e-6)))
    return Checked("video", VIDEO_SUFFIXES[container], info.width, info.height, frames)
