"""Reports: anyone signed in may report a public result or a comment; the reports wait on
the admin page until the admin hides what was reported, deletes it, or dismisses the report.
Resolving one resolves every open report of the same result or comment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.db.base import utcnow
from app.db.community import Account, Comment, Report
from app.db.engine import begin_write
from app.db.models import Job, as_utc
from app.people.social import plain_text, require_public
from app.people.titles import display_title
from app.refusals import Refused

MAX_REASON = 300
MAX_OPEN_PER_ACCOUNT = 50
Action = Literal["hide", "delete", "dismiss"]
ACTIONS: tuple[Action, ...] = ("hide", "delete", "dismiss")


def _file(session: Session, reporter_id: int, reason: str, job_id: int | None,
          comment_id: int | None) -> Report:
    reason = plain_text(reason, MAX_REASON, "the reason", required=False)
    begin_write(session)
    open_count = session.scalar(select(func.count()).select_from(Report)
                                .where(Report.reporter_id == reporter_id,
                                       Report.resolved_at.is_(None))) or 0
    if open_count >= MAX_OPEN_PER_ACCOUNT:
        session.rollback()
        raise Refused(f"you have {MAX_OPEN_PER_ACCOUNT} reports waiting for the admin; "
                      "wait until they are looked at", 429)
    report = Report(reporter_id=reporter_id, job_id=job_id, comment_id=comment_id,
                    reason=reason, created_at=utcnow())
    session.add(report)
    session.commit()
    return report


def report_job(session: Session, reporter_id: int, job: Job, reason: str) -> Report:
    """Report the public result ``job``."""
    require_public(job)
    return _file(session, reporter_id, reason, job.id, None)


def report_comment(session: Session, reporter_id: int, comment: Comment, reason: str) -> Report:
    """Report a comment."""
    return _file(session, reporter_id, reason, None, comment.id)


@dataclass(frozen=True)
class OpenReport:
    """A report as the admin page lists it."""

    id: int
    kind: Literal["result", "comment"]
    job_id: str                 # the result, or the one the comment is on
    title: str                  # the result's title, or the comment's text
    author: str | None          # the comment's author
    hidden: bool
    reason: str
    reporter: str
    created_at: datetime


def open_reports(session: Session, limit: int = 100) -> list[OpenReport]:
    """The reports waiting for the admin, oldest first."""
    rows = session.execute(select(Report, Account.username)
                           .join(Account, Account.id == Report.reporter_id)
                           .where(Report.resolved_at.is_(None))
                           .order_by(Report.id).limit(limit)).all()
    found = []
    for report, reporter in rows:
        when = as_utc(report.created_at) or utcnow()
        if report.comment_id is not None:
            comment = session.get(Comment, report.comment_id)
            job = session.get(Job, comment.job_id) if comment else None
            author = session.get(Account, comment.account_id) if comment else None
            if comment is None or job is None:
                continue
            found.append(OpenReport(report.id, "comment", job.public_id, comment.text,
                                    author.username if author else None, comment.hidden,
                                    report.reason, reporter, when))
        elif report.job_id is not None and (job := session.get(Job, report.job_id)):
            found.append(OpenReport(report.id, "result", job.public_id, display_title(job),
                                    None, job.hidden, report.reason, reporter, when))
    return found


def find_report(session: Session, report_id: int) -> Report | None:
    return session.get(Report, report_id)


def resolve(session: Session, report: Report, action: Action) -> None:
    """Mark ``report`` and every open report of the same thing as resolved by ``action``
    (the caller has done what it says)."""
    target = (Report.comment_id == report.comment_id) if report.comment_id is not None \
        else (Report.job_id == report.job_id)
    begin_write(session)
    session.execute(update(Report).where(target, Report.resolved_at.is_(None))
                    .values(resolved_at=utcnow(), resolution=action)
                    .execution_options(synchronize_session=False))
    session.commit()
