"""Fresh copies of a job's stored files for a new job (a retry, a saved strength version), so
deleting either job never breaks the other. The files were checked when they were uploaded:
they are copied byte for byte (streamed, fsynced, renamed), never decoded here."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from app.db.models import Job
from app.storage import MediaStore


def copy_media_file(store: MediaStore, rel: str, kind: str = "uploads") -> str:
    """A copy of the media file ``rel`` under a fresh name in ``kind``; returns its path."""
    source = store.path(rel)
    copy = store.new_path(kind, source.suffix or ".bin")

    def write(temp: Path) -> None:
        shutil.copyfile(source, temp)

    store.write_atomic(copy, write)
    return copy


def copy_inputs(store: MediaStore, job: Job) -> tuple[str, list[str]]:
    """Copies of ``job``'s content file and style files (all or none: a failure removes the
    copies already made)."""
    made: list[str] = []
    try:
        for rel in (job.content_path, *job.style_paths):
            made.append(copy_media_file(store, rel))
    except BaseException:
        store.remove(made)
        raise
    return made[0], made[1:]


def copy_derived_inputs(store: MediaStore, job: Job) -> dict[str, Any]:
    """The columns a copy of ``job`` needs beyond its content and styles: copies of its mask
    and of an Enhance's start picture, and what it was derived from."""
    made: list[str] = []
    try:
        for rel in (job.mask_path, job.start_path):
            made.append(copy_media_file(store, rel) if rel else "")
    except BaseException:
        store.remove([m for m in made if m])
        raise
    return {"mask_path": made[0] or None, "start_path": made[1] or None,
            "parent_id": job.parent_id, "derivation": job.derivation}
