"""Storing checked uploads in the media folder: the checks run in a child process
(:mod:`app.uploads.checks`); what passes is committed durably under ``uploads/``, and nothing
is kept of a file that is refused.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PIL import Image

from app.people.copies import copy_media_file
from app.refusals import Refused
from app.settings import Settings
from app.storage import MediaStore, fsync_dir, fsync_file
from app.uploads.checks import UploadCheck, inspect_uploads

CHECK_TIMEOUT_S = 120.0
CRASHED = ("{what} made our decoder crash, so it is damaged or built to attack it; it was "
           "not kept")


@dataclass(frozen=True)
class StoredUpload:
    """A validated upload now on disk (path relative to the media folder)."""

    rel: str
    kind: Literal["image", "video"]
    width: int
    height: int
    frames: int = 1             # a clip's frames in the stretch to make; 1 for a picture


def check_free_disk(store: MediaStore, settings: Settings) -> None:
    """Refuse uploads when the media disk is nearly full (HTTP 507)."""
    free_mb = shutil.disk_usage(store.root).free / 2**20
    if free_mb < settings.min_free_disk_mb:
        raise Refused("the server is low on disk space; try again later",
                      status_code=507)


def store_uploads(store: MediaStore, settings: Settings, raws: list[tuple[Path, str, str]],
                  output_side: int,
                  trim: tuple[float | None, float | None] = (None, None)) -> list[StoredUpload]:
    """Check the raw files ``raws`` — (temporary path, role, what) with the content first —
    in a child process and keep clean copies under ``uploads/``; returns them in order.
    Raises :class:`Refused` for anything refused; removes every temporary file."""
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
            raise Refused(CRASHED.format(what=what[:1].upper() + what[1:])) from None
        except ChildTimedOut:
            raise Refused("checking the files took too long; they were not kept") \
                from None
        for check, result in zip(checks, found):
            rel = store.new_path("uploads", result.suffix)
            source = Path(check.clean_path if result.kind == "image" else check.raw_path)
            _commit(store, source, rel)
            stored.append(StoredUpload(rel, result.kind, result.width, result.height,
                                       result.frames))
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