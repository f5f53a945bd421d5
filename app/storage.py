"""Media files (uploads, results, thumbnails) under one folder, written atomically.

Everything is addressed by a path relative to the media root (what the job row stores);
:meth:`MediaStore.path` refuses anything that would resolve outside the root. Files are
written to a temporary name in the same folder, fsynced, then renamed into place, so a crash
never leaves a half-written file under a real name.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

TEMP_PREFIX = ".tmp-"

HASH_CHUNK_BYTES = 1 << 20


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in chunks (never whole into memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


class MediaPathError(ValueError):
    """A media path that is malformed or points outside the media folder."""


def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Flush ``path``'s contents to the disk."""
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


class MediaStore:
    """The media folder: ``uploads/YYYY/MM/…``, ``results/…``, ``thumbs/…``, ``previews/…``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, rel: str) -> Path:
        """Absolute path of ``rel``; raises :class:`MediaPathError` for traversal attempts."""
        if not rel or rel.startswith(("/", "\\")) or "\\" in rel or "\x00" in rel:
            raise MediaPathError(f"bad media path {rel!r}")
        full = (self.root / rel).resolve()
        if not full.is_relative_to(self.root) or full == self.root:
            raise MediaPathError(f"media path {rel!r} is outside the media folder")
        return full

    def new_path(self, kind: str, suffix: str) -> str:
        """A fresh, unguessable relative path like ``results/2026/11/k3J…Q.png``."""
        if not suffix.startswith(".") or not suffix[1:].isalnum():
            raise MediaPathError(f"bad file suffix {suffix!r}")
        stamp = datetime.now(timezone.utc).strftime("%Y/%m")
        return f"{kind}/{stamp}/{secrets.token_urlsafe(16)}{suffix.lower()}"

    def temp_path_for(self, rel: str) -> Path:
        """A temporary sibling of ``rel`` (same folder, so the final rename is atomic)."""
        final = self.path(rel)
        final.parent.mkdir(parents=True, exist_ok=True)
        return final.with_name(f"{TEMP_PREFIX}{secrets.token_hex(8)}-{final.name}")

    def write_atomic(self, rel: str, data: bytes | Callable[[Path], None]) -> Path:
        """Write ``data`` (bytes, or a function that writes the given temp path) to ``rel``:
        temp file, fsync, rename, fsync the folder. Nothing is left behind on failure."""
        final = self.path(rel)
        temp = self.temp_path_for(rel)
        try:
            if isinstance(data, bytes):
                with open(temp, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
            else:
                data(temp)
                fsync_file(temp)
            os.replace(temp, final)
            fsync_dir(final.parent)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return final

    def save_upload(self, data: bytes, suffix: str) -> str:
        """Store an upload durably and return its relative path."""
        rel = self.new_path("uploads", suffix)
        self.write_atomic(rel, data)
        return rel

    def new_result_path(self, suffix: str) -> str:
        """A relative path for a new result file (not created yet)."""
        return self.new_path("results", suffix)

    def exists(self, rel: str | None) -> bool:
        """True when ``rel`` names an existing file in the store."""
        if not rel:
            return False
        try:
            return self.path(rel).is_file()
        except MediaPathError:
            return False

    def remove(self, rels: list[str]) -> None:
        """Delete these files, ignoring ones already gone."""
        for rel in rels:
            try:
                self.path(rel).unlink(missing_ok=True)
            except MediaPathError:
                continue

    def remove_temps_for(self, rels: list[str]) -> None:
        """Delete the temporary siblings (:meth:`temp_path_for`) of these files, which a
        process killed mid-write leaves behind."""
        for rel in rels:
            try:
                final = self.path(rel)
            except MediaPathError:
                continue
            for temp in final.parent.glob(f"{TEMP_PREFIX}*-{final.name}"):
                temp.unlink(missing_ok=True)

    def cleanup_temp(self, older_than_s: float = 0.0) -> int:
        """Remove temporary files left by a crash (older than ``older_than_s``)."""
        removed = 0
        cutoff = time.time() - older_than_s
        for temp in self.root.rglob(f"{TEMP_PREFIX}*"):
            try:
                if temp.is_file() and temp.stat().st_mtime <= cutoff:
                    temp.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def files(self) -> set[str]:
        """Every stored (non-temporary) file, as relative paths."""
        return {p.relative_to(self.root).as_posix() for p in self.root.rglob("*")
                if p.is_file() and not p.name.startswith(TEMP_PREFIX)}
