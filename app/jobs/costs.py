"""What a job costs in time, and how much one person has waiting: the queue's per-person cap.

A job's cost is its expected run time (:mod:`app.jobs.estimates`: this server's recent runs
of the engine, per work unit, scaled by size), a clip's as many pictures as it has frames;
an engine this server has not run yet is guessed from its spec (``first_guess_s``, per work
unit at 512 px; a training's units count its steps and crop size already). A person's
waiting work is the cost of their queued jobs plus the time their
running ones still need. Beyond ``DREAMGEN_MAX_QUEUED_MINUTES_PER_PERSON`` a new job is
refused, saying when to try again: a 4-minute painterly picture weighs far more than a
fast one, so one person cannot fill the line with hours of work.
"""

from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Job, JobState
from app.engine.registry import BY_NAME, work_units
from app.jobs.estimates import (
    REFERENCE_SIDE,
    SIZED_KINDS,
    RunTimes,
    current_run_times,
    duration,
    remaining_s,
)
from app.refusals import Refused

FULL_LINE = ("you have about {waiting} of work waiting here, and each person may have up to "
             "{cap} at a time (this one adds {cost}); try again in about {again}, when some "
             "of it is done")


def picture_seconds(times: RunTimes, engine: str, options: Mapping[str, Any],
                    kind: str = "image") -> float:
    """The expected seconds of one picture (or one clip frame, or a training: ``kind``)
    with these options."""
    measured = times.expected_s(engine, kind, dict(options))
    if measured is not None:
        return measured
    spec = BY_NAME.get(engine)
    side = REFERENCE_SIDE if kind in SIZED_KINDS else int(options.get("size") or REFERENCE_SIDE)
    guess = spec.first_guess_s if spec is not None else 1.0
    return guess * work_units(engine, options) * (side / REFERENCE_SIDE) ** 2


def cost_kind(job_kind: str) -> str:
    """The run times a job's cost is read from: a clip's are its frames', as pictures."""
    return job_kind if job_kind in SIZED_KINDS else "image"


def job_seconds(times: RunTimes, engine: str, options: Mapping[str, Any],
                frames: int = 1, kind: str = "image") -> float:
    """The expected seconds of a job: a picture, a clip's frames, or a training."""
    return picture_seconds(times, engine, options, cost_kind(kind)) * max(1, frames)


def waiting_seconds(session: Session, owner_id: str) -> float:
    """The work ``owner_id`` has in line: the cost of their queued jobs and what their
    running ones still need."""
    times = current_run_times(session)
    jobs = session.scalars(select(Job).where(
        Job.owner_id == owner_id, Job.state.in_((JobState.QUEUED, JobState.RUNNING)))).all()
    total = 0.0
    for job in jobs:
        cost = job_seconds(times, job.engine, job.options or {}, job.frames or 1, job.kind)
        if job.state == JobState.RUNNING:
            left = remaining_s(job, times)
            cost = cost * (1 - job.progress) if left is None else left
        total += cost
    return total


def check_room_in_line(session: Session, owner_id: str, engine: str,
                       options: Mapping[str, Any], frames: int, cap_minutes: float,
                       kind: str = "image") -> None:
    """Refuse (429) a job that would take ``owner_id``'s waiting work past the cap (0: no
    cap), saying when to try again. A job alone in its person's line is always taken, however
    long: the cap spaces one person's work out, it never forbids a long clip."""
    if cap_minutes <= 0:
        return
    cap = cap_minutes * 60
    waiting = waiting_seconds(session, owner_id)
    cost = job_seconds(current_run_times(session), engine, options, frames, kind)
    if waiting <= 0 or waiting + cost <= cap:
        return
    again = max(60.0, waiting + cost - cap)
    raise Refused(FULL_LINE.format(waiting=duration(waiting), cap=duration(cap),
                                   cost=duration(cost), again=duration(again)),
                  status_code=429, headers={"Retry-After": str(int(again))})
