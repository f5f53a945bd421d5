"""The gallery's tabs (:mod:`app.people.feeds`) as the API and the page show them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.people.account_sessions import SignedIn
from app.people.feeds import TABS, Tab, as_of_millis, as_of_moment, feed
from app.web.schemas import PER_PAGE, GalleryOut, job_out


def chosen_tab(text: str | None) -> Tab:
    """The tab asked for (Newest for anything unknown)."""
    return next((tab for tab in TABS if tab == text), "newest")


def gallery_out(session: Session, tab: Tab, page: int, as_of: int | None,
                who: SignedIn | None) -> GalleryOut:
    """One page of a tab, read as of ``as_of`` (milliseconds; None: now), as everyone sees
    the results (one's own included: their public titles)."""
    found = feed(session, tab, page, PER_PAGE, as_of_moment(as_of),
                 who.account_id if who else None)
    return GalleryOut(page=page, per_page=PER_PAGE, total=found.total,
                      pages=max(1, -(-found.total // PER_PAGE)),
                      jobs=[job_out(session, j, None) for j in found.jobs], tab=tab,
                      as_of=as_of_millis(found.as_of))
