"""The admin's view of the line: everyone's jobs, per person, in the fair order
(:mod:`app.jobs.fairness`), and a job's priority (higher runs first; 0 is its fair turn).
On ``/admin`` (section "Queue") and as JSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from app.db.engine import begin_write
from app.db.models import Job
from app.web.access import find_job, require_admin
from app.web.deps import SessionDep
from app.web.queue_view import LineJobOut, PersonOut, line_job_out, queue_overview

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_admin)])
PRIORITY_RANGE = (-10, 10)


class PriorityIn(BaseModel):
    """``POST /api/admin/jobs/{id}/priority``: higher runs first; 0 is its fair turn."""

    priority: int = Field(ge=PRIORITY_RANGE[0], le=PRIORITY_RANGE[1])


def set_priority(session: Session, job: Job, priority: int) -> None:
    begin_write(session)
    job.priority = priority
    session.commit()


@router.get("/api/admin/queue", response_model=list[PersonOut])
def get_queue(session: SessionDep) -> list[PersonOut]:
    """Every person with jobs queued or running, with their jobs in the fair order."""
    return queue_overview(session)


@router.post("/api/admin/jobs/{job_id}/priority", response_model=LineJobOut)
def post_priority(job_id: str, body: PriorityIn, session: SessionDep) -> LineJobOut:
    """Move a job ahead of (or behind) the fair order."""
    job = find_job(session, job_id)
    set_priority(session, job, body.priority)
    return line_job_out(job, None)


@router.post("/admin/jobs/{job_id}/priority")
def priority_from_form(job_id: str, session: SessionDep,
                       priority: Annotated[int, Form(ge=PRIORITY_RANGE[0],
                                                     le=PRIORITY_RANGE[1])] = 0) -> Response:
    set_priority(session, find_job(session, job_id), priority)
    return RedirectResponse("/admin#queue", status_code=303)
