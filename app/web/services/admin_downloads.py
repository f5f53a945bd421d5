"""Weight downloads started from the admin page: a background thread per request, and an
in-memory tracker of each file's bytes and outcome that the page polls.

The downloads themselves are :func:`app.engine.weights.downloads.download` (pinned URL or the store's
mirror, size and SHA-256 checked, atomic rename). The tracker lives as long as the app; it
lets one download of a file run at a time and remembers the last outcome of each.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from typing import Iterable, Literal

from app.engine.weights.downloads import WeightsDownloadError, download
from app.engine.weights.store import WeightFile, WeightStore

log = logging.getLogger("dreamgen.admin")
DownloadState = Literal["queued", "running", "done", "failed"]


@dataclass(frozen=True)
class FileProgress:
    """One file's download: bytes so far, bytes expected (None: unknown), outcome."""

    name: str
    state: DownloadState
    received: int = 0
    total: int | None = None
    message: str = ""

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")


class DownloadTracker:
    """Thread-safe progress of the files downloaded through the admin page."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, FileProgress] = {}

    def claim(self, files: Iterable[WeightFile]) -> list[WeightFile]:
        """Mark ``files`` queued and return them, leaving out any already being downloaded."""
        with self._lock:
            free = [f for f in files if not self._is_active(f.name)]
            for file in free:
                self._files[file.name] = FileProgress(file.name, "queued", total=file.size)
        return free

    def update(self, file: WeightFile, received: int, total: int | None) -> None:
        """Record ``received`` of ``total`` bytes (the download's ``on_bytes`` callback)."""
        with self._lock:
            self._files[file.name] = FileProgress(file.name, "running", received, total)

    def finish(self, file: WeightFile, error: str | None = None) -> None:
        """Record the outcome: done, or failed with ``error``."""
        with self._lock:
            now = self._files.get(file.name) or FileProgress(file.name, "running")
            if error is None:
                total = now.total if now.total is not None else now.received
                self._files[file.name] = replace(now, state="done", received=total,
                                                 total=total, message="downloaded and verified")
            else:
                self._files[file.name] = replace(now, state="failed", message=error)

    def snapshot(self) -> dict[str, FileProgress]:
        """Every file's latest progress, by name."""
        with self._lock:
            return dict(self._files)

    def busy(self) -> bool:
        """Whether any download is queued or running."""
        with self._lock:
            return any(p.active for p in self._files.values())

    def _is_active(self, name: str) -> bool:
        progress = self._files.get(name)
        return progress is not None and progress.active


def start_downloads(store: WeightStore, tracker: DownloadTracker,
                    files: Iterable[WeightFile]) -> list[WeightFile]:
    """Download ``files`` one after another in a background thread; return those started
    (files another request is already downloading are left to it)."""
    claimed = tracker.claim(files)
    if claimed:
        threading.Thread(target=run_downloads, args=(store, tracker, claimed),
                         name="dreamgen-admin-download", daemon=True).start()
    return claimed


def run_downloads(store: WeightStore, tracker: DownloadTracker,
                  files: list[WeightFile]) -> None:
    """Download each file into the store's cache, telling ``tracker`` how it goes; a failure
    is recorded and the next file still runs."""
    for file in files:
        tracker.update(file, 0, file.size)
        try:
            download(store, [file], progress=False, on_bytes=tracker.update)
        except WeightsDownloadError as exc:
            tracker.finish(file, str(exc))
        except Exception:  # noqa: BLE001 - a thread has nobody to raise to
            log.exception("downloading %s failed", file.name)
            tracker.finish(file, f"Downloading {file.name} failed on our side; the server's "
                                 "log says why")
        else:
            tracker.finish(file)
