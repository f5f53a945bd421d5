"""How long jobs take: the wait of a queued job and the time left of a running one.

Both come from the run times of recent successful jobs, per engine, kind (picture or clip)
and output size class (:data:`app.jobs.stats.SIZE_CLASSES`), each run time divided by its
amount of work (iterations for the painterly engines, octaves x steps for Deep Dream, 1 for
the feed-forward ones), so a 300-iteration run tells us about a 2000-iteration one. With no
run of the same size class we scale a run of another size by the pixel count, but never up
from a run under half the side asked about: a tiny run's time is mostly the engine's start
(loading the network), so 28 times its pixels would promise a 96 px run's 1.5 s as 43 s at
512 px. A training's work units already count its crop size (:data:`SIZED_KINDS`), so its runs are never scaled.

A running job's time left is, best first: what its engine reported (``Job.eta_at``: its own
pace since its first iteration, or the video pipeline's frames per second), the typical run
time less the time it has run, then its progress so far. A queued job waits for the jobs
ahead of it and for the running ones' time left, spread over the workers as they free up
(as many workers as jobs are running: while a job is queued, every worker is busy).
"""

from __future__ import annotations

import heapq
import statistics
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import Job, JobState, as_utc, utcnow
from app.engine.registry import work_units
from app.jobs.fairness import jobs_ahead
from app.jobs.stats import SIZE_CLASSES

RECENT_RUNS = 200          # run times are taken from the last this many successful runs
REFERENCE_SIDE = 512
LINEAR_FROM = 0.05         # progress from which elapsed * (1 - p) / p is believed
SCALE_UP_FROM = 0.5        # runs under this fraction of the asked side are not scaled up
SIZED_KINDS = frozenset({"train"})     # kinds whose work units count their size already


def size_label(side: int) -> str:
    """The size class (:data:`~app.jobs.stats.SIZE_CLASSES`) of an output side."""
    return next((str(bound) for bound in SIZE_CLASSES if side <= bound), "larger")


def _side(kind: str, options: dict[str, Any]) -> int:
    if kind in SIZED_KINDS:
        return REFERENCE_SIDE
    return int(options.get("size") or REFERENCE_SIDE)


@dataclass
class RunTimes:
    """Seconds per work unit of recent runs: per (engine, kind, size class), and per
    (engine, kind) scaled to :data:`REFERENCE_SIDE` by pixel count."""

    by_size: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)
    by_engine: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    sides: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # by_engine's sides

    def runs(self, engine: str, kind: str) -> int:
        """How many recent runs of ``engine`` on a ``kind`` the estimates rest on (0: none
        on this server yet, so there is no estimate)."""
        return len(self.by_engine.get((engine, kind), ()))

    def expected_s(self, engine: str, kind: str, options: dict[str, Any]) -> float | None:
        """The typical run time of a job with these options (None: no run to go by)."""
        work, side = work_units(engine, options), _side(kind, options)
        same_size = self.by_size.get((engine, kind, size_label(side)))
        if same_size:
            return statistics.median(same_size) * work
        scaled = self.by_engine.get((engine, kind), [])
        sides = self.sides.get((engine, kind), [REFERENCE_SIDE] * len(scaled))
        usable = [t for t, s in zip(scaled, sides) if s >= side * SCALE_UP_FROM]
        if usable:
            return statistics.median(usable) * work * (side / REFERENCE_SIDE) ** 2
        return None


def recent_run_times(session: Session, limit: int = RECENT_RUNS) -> RunTimes:
    """The run times of the last ``limit`` jobs that ran and succeeded (saved strength
    versions never ran: ``attempts`` is 0)."""
    rows = session.execute(
        select(Job.engine, Job.kind, Job.options, Job.started_at, Job.finished_at)
        .where(Job.state == JobState.SUCCEEDED, Job.attempts > 0,
               Job.started_at.is_not(None), Job.finished_at.is_not(None))
        .order_by(Job.finished_at.desc()).limit(limit)).all()
    by_size: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    by_engine: dict[tuple[str, str], list[float]] = defaultdict(list)
    sides: dict[tuple[str, str], list[int]] = defaultdict(list)
    for engine, kind, options, started, finished in rows:
        seconds = (as_utc(finished) - as_utc(started)).total_seconds()
        if seconds <= 0:
            continue
        per_unit = seconds / work_units(engine, options or {})
        side = _side(kind, options or {})
        by_size[(engine, kind, size_label(side))].append(per_unit)
        by_engine[(engine, kind)].append(per_unit * (REFERENCE_SIDE / side) ** 2)
        sides[(engine, kind)].append(side)
    return RunTimes(dict(by_size), dict(by_engine), dict(sides))


# What each database's recent run times were, and the state of its finished jobs they were
# read at: a page or event stream asks for estimates several times a second, and the run
# times change only when a job succeeds (or a finished one is deleted).
_CACHE: dict[str, tuple[tuple[int, int], RunTimes]] = {}
_CACHE_LOCK = threading.Lock()


def current_run_times(session: Session) -> RunTimes:
    """:func:`recent_run_times`, read again only when the succeeded jobs changed (one index
    count instead of loading the last :data:`RECENT_RUNS` rows on every call)."""
    count, newest = session.execute(select(func.count(), func.max(Job.id))
                                    .where(Job.state == JobState.SUCCEEDED)).one()
    key, database = (int(count or 0), int(newest or 0)), str(session.get_bind().url)
    with _CACHE_LOCK:
        cached = _CACHE.get(database)
    if cached is not None and cached[0] == key:
        return cached[1]
    times = recent_run_times(session)
    with _CACHE_LOCK:
        _CACHE[database] = (key, times)
    return times


def remaining_s(job: Job, times: RunTimes, now: datetime | None = None) -> float | None:
    """Seconds a running job still needs (None: nothing to go by, or it runs longer than
    jobs like it did)."""
    now = now or utcnow()
    eta_at = as_utc(job.eta_at)
    if eta_at is not None:
        return max(0.0, (eta_at - now).total_seconds())
    started = as_utc(job.started_at)
    elapsed = (now - started).total_seconds() if started else 0.0
    expected = times.expected_s(job.engine, job.kind, job.options or {})
    if expected is not None and expected > elapsed:
        return expected - elapsed
    if job.progress >= LINEAR_FROM:
        return elapsed * (1 - job.progress) / job.progress
    return None


def wait_s(session: Session, job: Job, times: RunTimes,
           now: datetime | None = None) -> float | None:
    """Seconds until a queued ``job`` starts: the running jobs' time left and the jobs ahead
    of it, each given to the worker that frees up first (None: something unknown)."""
    running = session.scalars(select(Job).where(Job.state == JobState.RUNNING)).all()
    ahead = jobs_ahead(session, job)
    if ahead is None:
        return None
    free_at = [remaining_s(r, times, now) for r in running] or [0.0]
    if any(t is None for t in free_at):
        return None
    heap = [float(t) for t in free_at if t is not None]
    heapq.heapify(heap)
    for other in ahead:
        expected = times.expected_s(other.engine, other.kind, other.options or {})
        if expected is None:
            return None
        heapq.heappush(heap, heapq.heappop(heap) + expected)
    return heap[0]


def measured_runs(session: Session, job: Job) -> int | None:
    """How many recent runs of ``job``'s engine and kind its estimates come from (None once
    it has finished: it needs none)."""
    if job.state not in (JobState.QUEUED, JobState.RUNNING):
        return None
    return current_run_times(session).runs(job.engine, job.kind)


def job_timing(session: Session, job: Job) -> tuple[float | None, float | None]:
    """(seconds until a queued job starts, seconds until the job is done): (None, None) once
    it has finished; either is None when there is nothing to go by."""
    if job.state not in (JobState.QUEUED, JobState.RUNNING):
        return None, None
    times = current_run_times(session)
    if job.state == JobState.RUNNING:
        return None, remaining_s(job, times)
    wait = wait_s(session, job, times)
    run = times.expected_s(job.engine, job.kind, job.options or {})
    return wait, (wait + run) if wait is not None and run is not None else None


def duration(seconds: float) -> str:
    """Seconds as people read them, as ``static/job.js`` writes them: exact under ten
    minutes (``4 min 7 s``), then to the minute."""
    if seconds < 1:
        return "under 1 s"
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600} h {round(s % 3600 / 60)} min"
    if s >= 600:
        return f"{round(s / 60)} min"
    if s >= 60:
        return f"{s // 60} min {s % 60} s"
    return f"{s} s"
