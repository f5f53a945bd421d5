"""A clip job's segments, as the engine process keeps them (the video pipeline's sink).

Segment files go under the media folder's ``segments/``; each commit is sent to the worker
thread, which records it in the job row (fenced by the claim token), so a later run of the
job — after a crash, a restart, or on another worker — continues after it. After the first
commit, and then at most every :data:`PARTIAL_EVERY_S`, the committed segments are joined
(no re-encoding) into the job's partial result, which the job page can already play.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from app.jobs.messages import PartialWritten, SegmentCommitted, Send
from app.storage import TEMP_PREFIX, MediaStore
from app.video.segments import SegmentFile, fsync_rename, join_segments

PARTIAL_EVERY_S = 15.0

class JobSegments:
    """The :class:`~app.video.segments.SegmentSink` of one clip job."""

    def __init__(self, store: MediaStore, committed: list[SegmentFile], send: Send,
                 partial: str | None, source: Path,
                 window: tuple[float, float | None]) -> None:
        self.store, self.send, self.partial = store, send, partial
        self.source, self.window = source, window
        self._done = list(committed)
        self._partial_at = 0.0

    def done(self) -> list[SegmentFile]:
        return list(self._done)

    def file_for(self, segment: SegmentFile) -> Path:
        return self.store.path(segment.path)

    def new_file(self, index: int) -> tuple[str, Path]:
        rel = self.store.new_path("segments", ".mp4")
        return rel, self.store.path(rel)

    def commit(self, segment: SegmentFile) -> None:
        self._done.append(segment)
        self.send(SegmentCommitted(segment.to_json()))
        now = time.monotonic()
        if self.partial and (len(self._done) == 1 or now - self._partial_at >= PARTIAL_EVERY_S):
            self._partial_at = now
            self._write_partial()

    def _write_partial(self) -> None:
        """The committed segments so far, joined with their sound, under the partial path."""
        assert self.partial is not None
        final = self.store.path(self.partial)
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = final.with_name(f"{TEMP_PREFIX}{secrets.token_hex(8)}-{final.name}")
        last = self._done[-1]
        seconds = last.end_pts * last.time_base[0] / last.time_base[1]
        start, _ = self.window
        try:
            join_segments([self.file_for(s) for s in self._done], temp, audio_from=self.source,
                          window=(start, start + seconds))
            fsync_rename(temp, final)
        finally:
            temp.unlink(missing_ok=True)
        self.send(PartialWritten(self.partial))

    def remove_files(self) -> None:
        """Delete every segment file (once the joined result is safely in place)."""
        self.store.remove([s.path for s in self._done])
