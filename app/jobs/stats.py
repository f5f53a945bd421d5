"""Numbers about the queue for ``/healthz`` and ``/metrics``: jobs by state, the queue's depth
and its oldest job's age, and run times of finished jobs as histogram buckets, each one
aggregate query (ages and durations on the database's clock, :mod:`app.db.clock`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, case, cast, func, select
from sqlalchemy.orm import Session

from app.db.clock import seconds_between, seconds_since
from app.db.models import Job, JobState

ALL_STATES = tuple(JobState)
# Upper bounds (s) of the run-time histogram: a 64 px MicroAST job takes ~1 s, a Gatys job at
# 2048 px on a CPU tens of minutes.
DURATION_BUCKETS_S = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
# Output-size classes (the longer side, px): a job's size label is the first that holds it.
SIZE_CLASSES = (256, 512, 1024, 2048, 4096)


@dataclass(frozen=True)
class QueueSummary:
    """Queued jobs and how long the oldest has waited (None when the queue is empty)."""

    depth: int
    oldest_age_s: float | None


@dataclass(frozen=True)
class DurationHistogram:
    """Run times of one (engine, size class): cumulative counts per bucket bound, sum, count."""

    engine: str
    size: str
    cumulative: tuple[int, ...]       # one per DURATION_BUCKETS_S bound
    sum_s: float
    count: int


def jobs_by_state(session: Session) -> dict[str, int]:
    """How many jobs are in each state (every state listed, 0 included)."""
    counts = dict(session.execute(select(Job.state, func.count()).group_by(Job.state)).all())
    return {state: int(counts.get(state, 0)) for state in ALL_STATES}


def queue_summary(session: Session) -> QueueSummary:
    """The queue's depth and the age of its oldest job, on the database's clock."""
    depth, age = session.execute(
        select(func.count(), func.max(seconds_since(Job.created_at)))
        .where(Job.state == JobState.QUEUED)).one()
    return QueueSummary(int(depth or 0), None if age is None else max(0.0, float(age)))


def size_class(longer_side: Any) -> Any:
    """SQL: the size label of an output whose longer side is ``longer_side``."""
    whens = [(longer_side <= bound, str(bound)) for bound in SIZE_CLASSES]
    return case(*whens, else_="larger")


def duration_histograms(session: Session) -> list[DurationHistogram]:
    """Run times (claim to finish of the run that succeeded) of every succeeded job still
    in the database, all time, per engine and output size class."""
    duration = seconds_between(Job.started_at, Job.finished_at)
    longer = case((Job.width >= Job.height, Job.width), else_=Job.height)
    size = size_class(longer).label("size")
    buckets = [func.sum(cast(case((duration <= bound, 1), else_=0), Integer))
               for bound in DURATION_BUCKETS_S]
    rows = session.execute(
        select(Job.engine, size, func.count(), func.sum(duration), *buckets)
        .where(Job.state == JobState.SUCCEEDED, Job.started_at.is_not(None),
               Job.finished_at.is_not(None), Job.width.is_not(None))
        .group_by(Job.engine, size).order_by(Job.engine, size)).all()
    return [DurationHistogram(engine=row[0], size=row[1], count=int(row[2]),
                              sum_s=float(row[3] or 0.0),
                              cumulative=tuple(int(n or 0) for n in row[4:]))
            for row in rows]
