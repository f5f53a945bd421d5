"""Clearing what a crash left in the media folder: temporary files and orphans.

A process killed mid-write leaves a temporary file (``.tmp-…``, or a video's ``.….part.mp4``);
one killed between writing a result and recording it in the job row leaves a file no row
names. Deleting such files is only safe when no other process is writing into the folder, so
every process that uses the folder holds a shared ``flock`` on a lock file beside it
(``data/.media.dreamgen.lock`` for ``data/media``) while it runs (the kernel drops it when the process dies, SIGKILL included). At start-up a process
that can take the lock exclusively is alone: it removes every temporary file and every file
no row names (a job's files, the style library's copies, the fast models' files) under
``uploads/``, ``results/``, ``thumbs/``, ``previews/``, ``segments/``, ``styles/``,
``models/`` and ``checkpoints/`` (never
anything else in the folder). Otherwise it removes only temporary files older than an hour.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.db.models import FastModel, Job, StyleImage
from app.storage import TEMP_PREFIX, MediaStore

log = logging.getLogger("dreamgen.sweep")

MEDIA_KINDS = ("uploads", "results", "thumbs", "previews", "segments", "styles", "models",
               "checkpoints")
SHARED_TEMP_AGE_S = 3600.0


class MediaFolderLock:
    """A shared lock on the media folder for as long as this process uses it."""

    def __init__(self, root: Path) -> None:
        root = Path(root).resolve()
        self.root = root
        self.path = root.parent / f".{root.name}.dreamgen.lock"
        self._fd: int | None = None

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:      # a media folder mounted at /, or under a read-only parent
            self.path = self.root / ".dreamgen.lock"
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)

    def acquire_alone(self) -> bool:
        """Take the lock exclusively if nobody else holds it (True) or shared (False)."""
        self._fd = self._open()
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            fcntl.flock(self._fd, fcntl.LOCK_SH)
            return False

    def acquire_shared(self) -> None:
        """Take the lock shared (a process that never sweeps, e.g. ``dreamgen worker``)."""
        self._fd = self._open()
        fcntl.flock(self._fd, fcntl.LOCK_SH)

    def share(self) -> None:
        """Let other processes in (after the start-up sweep)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_SH)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)       # closing drops the flock
            self._fd = None


def referenced_paths(engine: Engine) -> set[str]:
    """Every media path some job row names."""
    with Session(engine) as session:
        jobs = session.scalars(select(Job)).all()
        library = session.execute(select(StyleImage.path, StyleImage.thumb_path)).all()
        models = session.scalars(select(FastModel)).all()
        paths = {p for job in jobs for p in job.media_paths()}
        paths.update(p for model in models for p in model.media_paths())
    paths.update(p for row in library for p in row if p)   # the style library's own copies
    return paths


def sweep_media(store: MediaStore, engine: Engine, alone: bool) -> int:
    """Remove crash leftovers (see the module docstring); returns how many files went."""
    if not alone:
        return store.cleanup_temp(older_than_s=SHARED_TEMP_AGE_S)
    keep = referenced_paths(engine)
    removed = 0
    leftovers = (p for kind in MEDIA_KINDS for p in (store.root / kind).rglob("*"))
    for path in leftovers:
        rel = path.relative_to(store.root).as_posix()
        if not path.is_file() or rel in keep:
            continue
        path.unlink(missing_ok=True)
        removed += 1
        if not path.name.startswith((TEMP_PREFIX, ".")):
            log.info("removed %s: no job names it (left by a crash)", rel)
    if removed:
        log.info("removed %d file(s) left in the media folder by a crash", removed)
    return removed
