"""What the admin sees of the line: each person's jobs in the fair order
(:mod:`app.jobs.fairness`), under a short label rather than the secret their browser holds."""

from __future__ import annotations

import hashlib

from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.db.models import Job
from app.jobs.costs import waiting_seconds
from app.jobs.estimates import duration
from app.jobs.fairness import lines_by_person
from app.people.titles import display_title


class LineJobOut(BaseModel):
    id: str
    title: str
    engine: str
    kind: str
    state: str
    priority: int
    place: int | None          # its place in the whole line (1: next); None while it runs


class PersonOut(BaseModel):
    """One person's jobs in line: ``person`` is a short, stable label, not their key."""

    person: str
    waiting_s: float
    waiting: str
    jobs: list[LineJobOut]


def person_label(owner_id: str) -> str:
    """A short label that tells people apart without showing the secret their browser
    holds (an owner id is what makes jobs someone's own)."""
    return "person " + hashlib.sha256(owner_id.encode()).hexdigest()[:8]


def line_job_out(job: Job, place: int | None) -> LineJobOut:
    return LineJobOut(id=job.public_id, title=display_title(job), engine=job.engine,
                      kind=job.kind, state=job.state, priority=job.priority, place=place)


def queue_overview(session: Session) -> list[PersonOut]:
    """Everyone's line, the person whose next job runs soonest first."""
    people = []
    for line in lines_by_person(session):
        seconds = waiting_seconds(session, line.owner_id)
        jobs = [line_job_out(j, None) for j in line.running] + \
            [line_job_out(j, place) for place, j in line.queued]
        people.append(PersonOut(person=person_label(line.owner_id), waiting_s=round(seconds, 1),
                                waiting=duration(seconds), jobs=jobs))
    return people
