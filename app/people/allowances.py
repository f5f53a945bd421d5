"""Daily allowances, in work units that follow the engines' real cost.

A job costs ``work_units(engine, options)`` (:func:`app.engine.registry.work_units`: one
pass of a fast engine is 1, a painterly picture its iterations, a dream its octaves x
steps) for each frame it makes: a picture is one frame, a clip as many as its stretch has.
The admin sets a daily allowance for anonymous browsers and one for accounts (and may give
an account its own); unset, there is no limit (the default, so a studio that sets none works
as it always did).

What an owner (a browser's or an account's owner id) spent is written when its job is
queued (``work_spent``), in the same transaction as the job, so deleting a job never gives
its units back; a job that failed or was cancelled before it started does. A day is a UTC
day: the allowance refills at midnight UTC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Any, Callable, Mapping

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app.db.base import utcnow
from app.db.community import Account, DailyAllowance, WorkSpent
from app.db.engine import begin_write
from app.db.models import Job, JobState
from app.engine.registry import work_units
from app.refusals import Refused

ANONYMOUS, ACCOUNTS = "anonymous", "accounts"
AUDIENCES = (ANONYMOUS, ACCOUNTS)


def job_cost(engine: str, options: Mapping[str, Any], frames: int = 1) -> float:
    """What a job of ``engine`` with ``options`` making ``frames`` frames costs."""
    return round(work_units(engine, options) * max(1, frames), 2)


def day_start(now: datetime) -> datetime:
    """Midnight UTC that began ``now``'s day."""
    return datetime.combine(now.astimezone(timezone.utc).date(), time(), tzinfo=timezone.utc)


def refills_at(now: datetime) -> datetime:
    """When the allowance refills: the next midnight UTC."""
    return day_start(now) + timedelta(days=1)


@dataclass(frozen=True)
class Allowance:
    """An owner's allowance today: ``daily`` None means no limit."""

    daily: float | None
    spent: float
    refills_at: datetime

    @property
    def left(self) -> float | None:
        return None if self.daily is None else max(0.0, round(self.daily - self.spent, 2))

    def covers(self, units: float) -> bool:
        return self.left is None or units <= self.left + 1e-9


def studio_allowance(session: Session, audience: str) -> float | None:
    """The admin's daily allowance for ``audience`` (None: no limit)."""
    return session.scalar(select(DailyAllowance.units)
                          .where(DailyAllowance.audience == audience))


def set_studio_allowance(session: Session, audience: str, units: float | None) -> None:
    """Set the daily allowance of ``audience`` (None: no limit)."""
    if audience not in AUDIENCES:
        raise Refused(f"the audience is {' or '.join(AUDIENCES)}, not {audience!r}")
    check_units(units)
    begin_write(session)
    row = session.get(DailyAllowance, audience)
    if row is None:
        session.add(DailyAllowance(audience=audience, units=units))
    else:
        row.units = units
    session.commit()


def check_units(units: float | None) -> None:
    """Refuse a negative or absurd allowance in words."""
    if units is not None and not (math.isfinite(units) and 0 <= units <= 1e9):
        raise Refused("an allowance is a number of work units from 0 to 1,000,000,000, or "
                      "blank for no limit")


def daily_allowance(session: Session, owner_id: str) -> float | None:
    """The daily allowance of ``owner_id``: its account's own, else the accounts', else
    (no account) the anonymous browsers'."""
    own = session.execute(select(Account.id, Account.daily_allowance)
                          .where(Account.owner_id == owner_id)).first()
    if own is None:
        return studio_allowance(session, ANONYMOUS)
    return own[1] if own[1] is not None else studio_allowance(session, ACCOUNTS)


def spent_since(session: Session, owner_id: str, since: datetime) -> float:
    """Units ``owner_id`` spent since ``since``, less those of its jobs that failed or were
    cancelled before they started."""
    refunded = and_(Job.id.is_not(None),
                    or_(Job.state == JobState.FAILED,
                        and_(Job.state == JobState.CANCELLED, Job.started_at.is_(None))))
    total = session.scalar(select(func.coalesce(func.sum(WorkSpent.units), 0.0))
                           .select_from(WorkSpent)
                           .outerjoin(Job, Job.id == WorkSpent.job_id)
                           .where(WorkSpent.owner_id == owner_id,
                                  WorkSpent.spent_at >= since, ~refunded))
    return float(total or 0.0)


def allowance_of(session: Session, owner_id: str, now: datetime | None = None) -> Allowance:
    """``owner_id``'s allowance today (spent is counted only when there is a limit)."""
    now = now or utcnow()
    daily = daily_allowance(session, owner_id)
    spent = 0.0 if daily is None else spent_since(session, owner_id, day_start(now))
    return Allowance(daily, spent, refills_at(now))


def units_text(units: float) -> str:
    """A number of units as people read it (no ``.0``)."""
    return f"{units:,.0f}" if float(units).is_integer() else f"{units:,.2f}"


def refill_words(at: datetime, now: datetime) -> str:
    """"00:00 UTC (in 3 h 12 min)"."""
    minutes = max(1, math.ceil((at - now).total_seconds() / 60))
    wait = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
    return f"{at:%H:%M} UTC (in {wait})"


def refusal(allowance: Allowance, units: float, now: datetime) -> Refused:
    """The 429 a job over the allowance gets: what it costs, what is left, when it refills."""
    left = allowance.left or 0.0
    wait = max(1, math.ceil((allowance.refills_at - now).total_seconds()))
    return Refused(f"this job costs {units_text(units)} work units and {units_text(left)} of "
                   f"today's {units_text(allowance.daily or 0)} are left; the allowance "
                   f"refills at {refill_words(allowance.refills_at, now)}", 429,
                   headers={"Retry-After": str(wait)})


def check_allowance(session: Session, owner_id: str, units: float) -> None:
    """Refuse (429) a job of ``units`` that ``owner_id``'s allowance does not cover."""
    now = utcnow()
    allowance = allowance_of(session, owner_id, now)
    if not allowance.covers(units):
        raise refusal(allowance, units, now)


def spend(session: Session, owner_id: str, job_id: int, units: float) -> None:
    """Record what a job spent, inside the transaction that queues it (no commit); the
    check repeats there, under the write lock, so two jobs at once cannot both slip
    through."""
    check_allowance(session, owner_id, units)
    session.add(WorkSpent(owner_id=owner_id, job_id=job_id, units=units, spent_at=utcnow()))


def spending(owner_id: str, units: float) -> Callable[[Session, Job], None]:
    """What :func:`app.jobs.queue.enqueue_job` writes with a job of ``owner_id`` costing
    ``units`` (``with_job``): the spend, checked again under the write lock."""
    def record(session: Session, job: Job) -> None:
        spend(session, owner_id, job.id, units)
    return record


def earlier_cost(session: Session, job: Job) -> float:
    """What running ``job`` again costs: what it spent (the same files and settings), else
    its settings' cost for one frame (a job from before allowances were kept)."""
    spent = session.scalar(select(WorkSpent.units).where(WorkSpent.job_id == job.id)
                           .order_by(WorkSpent.id.desc()).limit(1))
    return float(spent) if spent is not None else job_cost(job.engine, job.options or {})
