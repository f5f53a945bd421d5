"""What the admin does with accounts: list them, disable one (signed out at once, its
results hidden everywhere, as any result the admin hides) or enable it
again (showing again only what disabling hid, not what the admin hid for its own reasons),
and give one its own daily allowance."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db.base import utcnow
from app.db.community import Account
from app.db.engine import begin_write
from app.db.models import Job
from app.people.account_sessions import end_all_sessions
from app.people.allowances import check_units


@dataclass(frozen=True)
class AccountRow:
    """An account as the admin page lists it."""

    username: str
    display_name: str
    disabled: bool
    daily_allowance: float | None


def list_accounts(session: Session, search: str = "", limit: int = 50) -> list[AccountRow]:
    """The newest accounts, or those whose name contains ``search``."""
    query = select(Account).order_by(Account.id.desc()).limit(limit)
    if search.strip():
        like = search.strip().lower().replace("\\", "").replace("%", "").replace("_", r"\_")
        query = query.where(Account.username_key.like(f"%{like}%", escape="\\"))
    return [AccountRow(a.username, a.display_name or a.username, a.disabled_at is not None,
                       a.daily_allowance) for a in session.scalars(query)]


def set_disabled(session: Session, account: Account, disabled: bool) -> None:
    """Disable ``account`` (its sessions end; its results not hidden yet are hidden and
    remembered) or enable it (those results are shown again)."""
    begin_write(session)
    if disabled and account.disabled_at is None:
        ids = list(session.scalars(select(Job.id).where(Job.owner_id == account.owner_id,
                                                        Job.hidden.is_(False))))
        session.execute(update(Job).where(Job.id.in_(ids)).values(hidden=True)
                        .execution_options(synchronize_session=False))
        account.hidden_job_ids = ids
        account.disabled_at = utcnow()
        end_all_sessions(session, account.id)
    elif not disabled and account.disabled_at is not None:
        ids = list(account.hidden_job_ids or [])
        session.execute(update(Job).where(Job.id.in_(ids), Job.owner_id == account.owner_id)
                        .values(hidden=False).execution_options(synchronize_session=False))
        account.hidden_job_ids = []
        account.disabled_at = None
    session.commit()


def set_account_allowance(session: Session, account: Account, units: float | None) -> None:
    """Give ``account`` its own daily allowance (None: the studio's for accounts)."""
    check_units(units)
    begin_write(session)
    account.daily_allowance = units
    session.commit()
