"""Upload validation: real type from the bytes, full decode in a child process, limits.

Each uploaded file is streamed to a temporary file in the media folder (never more than the
byte limit is read). Then one child process (:func:`app.isolation.run_isolated`) checks them
all: images are decoded completely (Pillow's decompression-bomb guard, the megapixel limit;
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
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fastapi import UploadFile
from PIL import Image

from app.settings import Settings
from app.jobs.copies import copy_media_file
from app.storage import MediaStore, fsync_dir, fsync_file
from app.video.probe import VideoLimits
from app.web.errors import UploadRejected

try:  # HEIC/HEIF photos from phones, when pillow-heif is installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - depends on the install
    HEIF_SUPPORTED = False

CHUNK = 1024 * 1024
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif")
VIDEO_SUFFIXES = {"mp4": ".mp4", "matroska": ".mkv", "gif": ".gif", "avi": ".avi"}
ACCEPTED = "JPEG, PNG, WebP, GIF or HEIC"
STYLE_STORE_SIDE = 2048     # style images are kept no larger than any engine uses them
CHECK_TIMEOUT_S = 120.0
log = logging.getLogger("dreamgen.uploads")
CRASHED = ("{what} made our decoder crash, so it is damaged or built to attack it; it was "
           "not kept")


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


@dataclass(frozen=True)
class StoredUpload:
    """A validated upload now on disk (path relative to the media folder)."""

    rel: str
    kind: Literal["image", "video"]
    width: int
    height: int


async def save_raw(upload: UploadFile, path: Path, settings: Settings, what: str) -> None:
    """Stream ``upload`` into ``path``, reading no further than one chunk past the
    ``max_upload_mb`` limit (413) and refusing an empty file (422)."""
    limit = settings.max_upload_mb * 1024 * 1024
    size = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise UploadRejected(f"{what} is larger than the {settings.max_upload_mb} MiB "
                                     "limit", status_code=413)
            out.write(chunk)
    if size == 0:
        raise UploadRejected(f"{what} is an empty file")


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


def check_free_disk(store: MediaStore, settings: Settings) -> None:
    """Refuse uploads when the media disk is nearly full (HTTP 507)."""
    free_mb = shutil.disk_usage(store.root).free / 2**20
    if free_mb < settings.min_free_disk_mb:
        raise UploadRejected("the server is low on disk space; try again later",
                             status_code=507)


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
        raise UploadRejected(f"{check.what} could not be read; it is damaged or not what its "
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
        raise UploadRejected(f"{check.what} is not an image we accept ({ACCEPTED})", 415)
    return _check_clip(check)


def _clean_image(check: UploadCheck, kind: str) -> Checked:
    from app.engine.images import check_style_shape, load_image

    if kind == "heif" and not HEIF_SUPPORTED:
        raise UploadRejected(f"{check.what} is HEIC, which this server cannot read; "
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
        raise UploadRejected(f"{check.what} is not an image ({ACCEPTED}) or a video "
                             "(MP4, MOV, WebM, MKV, AVI, animated GIF)", 415)
    info = inspect_video(Path(check.raw_path), check.video_limits)
    check_output_size(info, check.output_side)
    check_trim(info, check.trim)
    return Checked("video", VIDEO_SUFFIXES[container], info.width, info.height)


# ----------------------------------------------------------------------------- in the server
def store_uploads(store: MediaStore, settings: Settings, raws: list[tuple[Path, str, str]],
                  output_side: int,
                  trim: tuple[float | None, float | None] = (None, None)) -> list[StoredUpload]:
    """Check the raw files ``raws`` — (temporary path, role, what) with the content first —
    in a child process and keep clean copies under ``uploads/``; returns them in order.
    Raises :class:`UploadRejected` for anything refused; removes every temporary file."""
    from app.isolation import ChildCrashed, ChildTimedOut, run_isolated
    from app.video.probe import VideoLimits

    limits = VideoLimits.from_settings(settings)
    checks = [UploadCheck(str(raw), str(raw.with_name(raw.name + ".clean")), role, what,
                          settings.max_image_megapixels, limits, output_side, trim)
              for raw, role, what in raws]
    stored: list[StoredUpload] = []
    try:
        try:
            found = run_isolated(inspect_uploads, checks, timeout_s=CHECK_TIMEOUT_S)
        except ChildCrashed:
            what = raws[0][2] if len(raws) == 1 else "one of the files"
            raise UploadRejected(CRASHED.format(what=what[:1].upper() + what[1:])) from None
        except ChildTimedOut:
            raise UploadRejected("checking the files took too long; they were not kept") \
                from None
        for check, result in zip(checks, found):
            rel = store.new_path("uploads", result.suffix)
            source = Path(check.clean_path if result.kind == "image" else check.raw_path)
            _commit(store, source, rel)
            stored.append(StoredUpload(rel, result.kind, result.width, result.height))
    except BaseException:
        store.remove([s.rel for s in stored])
        raise
    finally:
        for check in checks:
            Path(check.raw_path).unlink(missing_ok=True)
            Path(check.clean_path).unlink(missing_ok=True)
    return stored


def _commit(store: MediaStore, source: Path, rel: str) -> None:
    """Move a checked file to its final name durably (fsync, rename, fsync the folder)."""
    final = store.path(rel)
    final.parent.mkdir(parents=True, exist_ok=True)
    fsync_file(source)
    os.replace(source, final)
    fsync_dir(final.parent)


def copy_stored(store: MediaStore, rel: str) -> StoredUpload:
    """A fresh copy of an already checked upload (a reused style), so deleting the job it
    came from never breaks the new one."""
    copy = copy_media_file(store, rel)      # streamed: a 40 MP style is never read whole
    with Image.open(store.path(copy)) as image:
        width, height = image.size
    return StoredUpload(copy, "image", width, height)


def larger_choice(width: int, height: int, max_side: int, what: str) -> str:
    """What to choose when a ``width`` x ``height`` photo (or clip) comes out too small at
    ``max_side``: a larger output size helps only when it is larger than that already (a
    picture is never enlarged)."""
    if max(width, height) <= max_side:
        return f"a larger {what}"
    return f"a larger output size, or a less narrow {what}"


def style_label(index: int, count: int) -> str:
    return "the style image" if count == 1 else f"style image {index + 1}"
