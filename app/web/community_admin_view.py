"""What the admin page shows of the community: the reports waiting, the accounts (newest,
or found by name), the daily allowances and the sign-up mode. Read in its own session, so
the page still shows the weights when the database does not answer."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.people.account_admin import list_accounts
from app.people.allowances import ACCOUNTS, ANONYMOUS, studio_allowance
from app.people.reports import open_reports

log = logging.getLogger("dreamgen.web")


def community_admin_context(request: Request) -> dict[str, Any]:
    """The admin page's community part (empty when the database does not answer)."""
    db_engine = getattr(request.app.state, "db_engine", None)
    search = request.query_params.get("account", "")[:40]
    context: dict[str, Any] = {"signup_mode": request.app.state.settings.signup,
                               "account_search": search}
    if db_engine is None:
        return context
    try:
        with Session(db_engine) as session:
            context.update(reports=open_reports(session), accounts=list_accounts(session, search),
                           allowances={ANONYMOUS: studio_allowance(session, ANONYMOUS),
                                       ACCOUNTS: studio_allowance(session, ACCOUNTS)})
    except SQLAlchemyError:
        log.warning("the admin page could not read the community's tables", exc_info=True)
    return context
