"""Live job progress for the event streams, read in one place per process.

Each stream of ``GET /api/jobs/{id}/events`` used to read the database on its own every
0.4 s on the shared thread pool, so 1,500 streams from one client starved every other
request. Now one poller task per process (started by the first stream, ended with the last)
reads, every :data:`POLL_S`, the jobs being watched — one query for their rows, then each
one's view (queue place, wait) — in a thread of its own, and wakes the streams, which each
take their job's view. A tick costs per job watched, not per stream. Progress comes from
the database, so a worker in any process is seen.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator, Callable
from weakref import WeakKeyDictionary

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Job
from app.web.schemas import JobOut, job_out

log = logging.getLogger("dreamgen.web")
POLL_S = 0.4
CHUNK = 500                     # ids per query (SQLite's bound-parameter limit is far above)
_UNREAD = object()              # not in the latest tick (the stream came after it began)


@dataclass(frozen=True)
class JobViews:
    """One watched job as its owner sees it and as anyone else does (each read only when
    someone of that kind watches)."""

    owner_id: str
    mine: JobOut | None
    theirs: JobOut | None

    def view_for(self, owner_id: str) -> JobOut | None:
        return self.mine if owner_id == self.owner_id else self.theirs


def read_views(session_factory: Callable[[], Session],
               watched: dict[str, set[str]]) -> dict[str, JobViews | None]:
    """The views of the watched jobs (job id → the owner ids watching it); None for a job
    that is gone (never made, or deleted)."""
    views: dict[str, JobViews | None] = {}
    ids = list(watched)
    with session_factory() as session:
        jobs = {job.public_id: job for start in range(0, len(ids), CHUNK)
                for job in session.scalars(select(Job).where(
                    Job.public_id.in_(ids[start:start + CHUNK])))}
        for job_id, owners in watched.items():
            job = jobs.get(job_id)
            if job is None or job.deleted_at is not None:
                views[job_id] = None
                continue
            mine = job_out(session, job, job.owner_id) if job.owner_id in owners else None
            theirs = job_out(session, job, None) if owners - {job.owner_id} else None
            views[job_id] = JobViews(job.owner_id, mine, theirs)
    return views


class _Watch:
    """The streams of one event loop (the server has one; a test client may make more)."""

    def __init__(self) -> None:
        self.watchers: dict[str, Counter[str]] = {}
        self.views: dict[str, JobViews | None] = {}
        self.tick = asyncio.Event()
        self.poller: asyncio.Task[None] | None = None

    def publish(self, views: dict[str, JobViews | None]) -> None:
        """New views for every stream: swap them in, then wake the streams."""
        self.views = views
        tick, self.tick = self.tick, asyncio.Event()
        tick.set()


class ProgressFeed:
    """The poller and the streams' subscriptions."""

    def __init__(self, session_factory: Callable[[], Session], poll_s: float = POLL_S) -> None:
        self._session_factory = session_factory
        self.poll_s = poll_s
        self._watches: WeakKeyDictionary[asyncio.AbstractEventLoop, _Watch] = \
            WeakKeyDictionary()
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="dreamgen-progress")

    @property
    def watched_jobs(self) -> int:
        return sum(len(watch.watchers) for watch in list(self._watches.values()))

    @asynccontextmanager
    async def watching(self, job_id: str, owner_id: str) -> AsyncIterator[None]:
        """Have ``job_id`` read on every tick, for ``owner_id``, while inside."""
        watch = self._watch()
        watch.watchers.setdefault(job_id, Counter())[owner_id] += 1
        if watch.poller is None:
            watch.poller = asyncio.create_task(self._poll(watch), name="dreamgen-progress")
        try:
            yield
        finally:
            owners = watch.watchers[job_id]
            owners[owner_id] -= 1
            if owners[owner_id] <= 0:
                del owners[owner_id]
            if not owners:
                del watch.watchers[job_id]

    async def next_views(self, job_id: str, owner_id: str) -> JobViews | None:
        """The job's views from the next tick that read them for ``owner_id`` (inside
        :meth:`watching`); None when the job is gone."""
        watch = self._watch()
        while True:
            await watch.tick.wait()
            views = watch.views.get(job_id, _UNREAD)
            if views is None or (isinstance(views, JobViews)
                                 and views.view_for(owner_id) is not None):
                return views

    def close(self) -> None:
        """Stop the pollers (the app is shutting down)."""
        for watch in list(self._watches.values()):
            if watch.poller is not None:
                watch.poller.cancel()
        self._reader.shutdown(wait=False, cancel_futures=True)

    def _watch(self) -> _Watch:
        loop = asyncio.get_running_loop()
        watch = self._watches.get(loop)
        if watch is None:
            watch = self._watches[loop] = _Watch()
        return watch

    async def _poll(self, watch: _Watch) -> None:
        loop = asyncio.get_running_loop()
        failing = False
        try:
            while watch.watchers:
                watched = {job: set(owners) for job, owners in watch.watchers.items()}
                try:
                    views = await loop.run_in_executor(self._reader, read_views,
                                                       self._session_factory, watched)
                except Exception:  # noqa: BLE001 - the streams wait; try again next tick
                    if not failing:
                        log.exception("reading job progress for the live streams failed")
                    failing = True
                else:
                    failing = False
                    watch.publish(views)
                await asyncio.sleep(self.poll_s)
        finally:
            watch.poller = None        # nothing was awaited since the last check
