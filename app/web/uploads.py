"""Upload validation: real type from the bytes, full decode, byte and pixel limits.

Images are decoded completely (:func:`app.engine.images.load_image`, with Pillow's
decompression-bomb guard), turned upright from their EXIF orientation and stored as a fresh,
metadata-free re-encode, so a served upload never carries GPS or other EXIF. Clips (MP4, MOV,
WebM, MKV, AVI, animated GIF) are checked by :func:`app.video.probe.inspect_video` before they
are kept. Nothing is stored for a refused file.
"""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from typing import Literal

from fastapi import UploadFile
from PIL import Image

from app.engine.images import load_image
from app.settings import Settings
from app.storage import MediaStore
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


@dataclass(frozen=True)
class StoredUpload:
    """A validated upload now on disk (path relative to the media folder)."""

    rel: str
    kind: Literal["image", "video"]
    width: int
    height: int


async def read_limited(upload: UploadFile, settings: Settings, what: str) -> bytes:
    """The upload's bytes, reading no further than one byte past ``max_upload_mb``."""
    limit = settings.max_upload_mb * 1024 * 1024
    chunks: list[bytes] = []
    size = 0
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise UploadRejected(f"{what} is larger than the {settings.max_upload_mb} MiB limit",
                                 status_code=413)
        chunks.append(chunk)
    if size == 0:
        raise UploadRejected(f"{what} is an empty file")
    return b"".join(chunks)


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


def is_animated_gif(data: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return getattr(image, "n_frames", 1) > 1
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False


def check_free_disk(store: MediaStore, settings: Settings) -> None:
    """Refuse uploads when the media disk is nearly full (HTTP 507)."""
    free_mb = shutil.disk_usage(store.root).free / 2**20
    if free_mb < settings.min_free_disk_mb:
        raise UploadRejected("the server is low on disk space; try again later",
                             status_code=507)


def store_image(store: MediaStore, data: bytes, what: str, settings: Settings) -> StoredUpload:
    """Decode ``data`` fully and keep an upright, metadata-free re-encode of it."""
    kind = sniff_image(data)
    if kind is None:
        raise UploadRejected(f"{what} is not an image we accept ({ACCEPTED})", 415)
    if kind == "heif" and not HEIF_SUPPORTED:
        raise UploadRejected(f"{what} is HEIC, which this server cannot read; "
                             "upload a JPEG or PNG", 415)
    image = load_image(data, what, settings.max_image_megapixels)
    clean = Image.new("RGB", image.size)     # a fresh image: no EXIF, ICC, text chunks
    clean.paste(image)
    buffer = io.BytesIO()
    if kind in ("jpeg", "heif"):
        clean.save(buffer, "JPEG", quality=95)
        suffix = ".jpg"
    else:
        clean.save(buffer, "PNG")
        suffix = ".png"
    rel = store.save_upload(buffer.getvalue(), suffix)
    return StoredUpload(rel, "image", clean.width, clean.height)


def store_video(store: MediaStore, data: bytes, settings: Settings) -> StoredUpload:
    """Check the clip with the video probe (limits, decodable) and keep it."""
    from app.video.probe import inspect_video, sniff_container

    probe_rel = store.new_path("uploads", ".bin")
    temp = store.temp_path_for(probe_rel)
    try:
        temp.write_bytes(data)
        container = sniff_container(temp)
        if container is None:
            raise UploadRejected(f"the content file is not an image ({ACCEPTED}) or a video "
                                 "(MP4, MOV, WebM, MKV, AVI, animated GIF)", 415)
        info = inspect_video(temp, settings)
        rel = store.new_path("uploads", VIDEO_SUFFIXES[container])
        store.write_atomic(rel, data)
    finally:
        temp.unlink(missing_ok=True)
    return StoredUpload(rel, "video", info.width, info.height)


def store_content(store: MediaStore, data: bytes, settings: Settings) -> StoredUpload:
    """The content file: an image, or a clip (an animated GIF counts as a clip)."""
    kind = sniff_image(data)
    if kind is not None and not (kind == "gif" and is_animated_gif(data)):
        return store_image(store, data, "the content image", settings)
    return store_video(store, data, settings)


def style_label(index: int, count: int) -> str:
    return "the style image" if count == 1 else f"style image {index + 1}"

