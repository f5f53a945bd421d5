"""Whose job runs next: round-robin across people, oldest first within a person.

**The rule.** Each person (an account, or a browser's key: ``Job.owner_id``) has one job at
the head of their line: their highest-priority queued job, the oldest among equals. A free
worker takes, among those heads, the one with the highest priority (the admin's word; 0 for
every job unless the admin moved one), then the one whose person was served longest ago
(whose last job started earliest; someone never served comes first), then the oldest. So a
person with one job waits behind at most one job of each other person, however many jobs
the others queued; and a long clip gives way between its segments when someone else waits
(:func:`app.jobs.queue.others_waiting`), so it never holds a worker for hours.

**An example.** Ann queues six pictures, then Bo one. One worker: Ann's first starts (she
queued first). When it ends, Ann was served just now and Bo never was: Bo's picture runs
next, before Ann's second. Then Ann's other five, one after another.

:func:`claim_order` is that rule in SQL (what :func:`app.jobs.queue.claim_next_job` takes);
:func:`fair_order` plays it forward in Python for the waits and the times shown on the
pages, so they follow the order the jobs will really run in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.db.models import Job, JobState, as_utc

MAX_QUEUE_READ = 500     # a longer queue: no order is worked out for the pages


@dataclass(frozen=True)
class Waiting:
    """A queued job, as much as the order needs (and what an estimate reads)."""

    id: int
    owner_id: str
    priority: int
    engine: str = ""
    kind: str = "image"
    options: Any = None


def fair_order(queued: Sequence[Waiting], last_served: dict[str, datetime]) -> list[Waiting]:
    """``queued`` in the order workers will take them (the rule above), given when each
    person's last job started (``last_served``; absent: never)."""
    lines: dict[str, list[Waiting]] = {}
    for job in sorted(queued, key=lambda j: (-j.priority, j.id)):
        lines.setdefault(job.owner_id, []).append(job)
    clock = {owner: at.timestamp() for owner, at in last_served.items()}
    now = max(clock.values(), default=0.0)
    order: list[Waiting] = []
    while lines:
        owner = min(lines, key=lambda o: (-lines[o][0].priority, o in clock,
                                          clock.get(o, 0.0), lines[o][0].id))
        order.append(lines[owner].pop(0))
        if not lines[owner]:
            del lines[owner]
        now += 1.0                      # served now: after everyone served before
        clock[owner] = now
    return order


def claim_order() -> Select[Any]:
    """The id of the queued job a free worker takes next (the rule above), as one SELECT:
    each person's head by a window over their queued jobs, then priority, the person's last
    start, and age."""
    heads = (select(Job.id, Job.owner_id, Job.priority,
                    func.row_number().over(partition_by=Job.owner_id,
                                           order_by=(Job.priority.desc(), Job.id))
                    .label("place"))
             .where(Job.state == JobState.QUEUED).subquery())
    last_start = (select(func.max(Job.started_at)).where(Job.owner_id == heads.c.owner_id)
                  .correlate(heads).scalar_subquery())
    return (select(heads.c.id).where(heads.c.place == 1)
            .order_by(heads.c.priority.desc(), last_start.asc().nulls_first(), heads.c.id)
            .limit(1))


def jobs_ahead(session: Session, job: Job) -> list[Waiting] | None:
    """The queued jobs that run before ``job``, in the fair order the workers take them
    (the rule above); None when the queue is too long to tell."""
    # only what the estimate reads: the event stream asks several times a second
    rows = session.execute(select(Job.id, Job.owner_id, Job.priority, Job.engine, Job.kind,
                                  Job.options).where(Job.state == JobState.QUEUED)
                           .order_by(Job.id).limit(MAX_QUEUE_READ + 1)).all()
    if len(rows) > MAX_QUEUE_READ:
        return None
    queued = [Waiting(*row) for row in rows]
    owners = {w.owner_id for w in queued}
    served = dict(session.execute(select(Job.owner_id, func.max(Job.started_at))
                                  .where(Job.owner_id.in_(owners),
                                         Job.started_at.is_not(None))
                                  .group_by(Job.owner_id)).all()) if owners else {}
    order = fair_order(queued, {o: as_utc(t) for o, t in served.items() if t is not None})
    place = next((i for i, w in enumerate(order) if w.id == job.id), len(order))
    return order[:place]


@dataclass(frozen=True)
class PersonLine:
    """One person's jobs in line, for the admin: their running jobs, then their queued ones
    with each one's place in the whole fair order (1: next)."""

    owner_id: str
    running: list[Job]
    queued: list[tuple[int, Job]]


def lines_by_person(session: Session) -> list[PersonLine]:
    """Everyone with a job queued or running, the one whose next job runs soonest first."""
    active = session.scalars(select(Job).where(
        Job.state.in_((JobState.QUEUED, JobState.RUNNING))).order_by(Job.id)
        .limit(MAX_QUEUE_READ)).all()
    queued = [j for j in active if j.state == JobState.QUEUED]
    owners = {j.owner_id for j in active}
    served = dict(session.execute(select(Job.owner_id, func.max(Job.started_at))
                                  .where(Job.owner_id.in_(owners), Job.started_at.is_not(None))
                                  .group_by(Job.owner_id)).all()) if owners else {}
    order = fair_order([Waiting(j.id, j.owner_id, j.priority) for j in queued],
                       {o: as_utc(t) for o, t in served.items() if t is not None})
    place = {w.id: i + 1 for i, w in enumerate(order)}
    lines = {owner: PersonLine(owner, [], []) for owner in owners}
    for job in active:
        if job.state == JobState.RUNNING:
            lines[job.owner_id].running.append(job)
        else:
            lines[job.owner_id].queued.append((place[job.id], job))
    for line in lines.values():
        line.queued.sort(key=lambda pair: pair[0])
    return sorted(lines.values(),
                  key=lambda line: (not line.running, line.queued[0][0] if line.queued else 0))
