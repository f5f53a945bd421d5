"""The admin's part of the community (:mod:`app.web.admin_access` says who the admin is):
the reports queue (hide, delete or dismiss what was reported), accounts (disable and enable,
a one-time password link, an allowance of its own), the daily allowances, and invite links.
Plain forms for the admin page and JSON under ``/api/admin/`` (left out of the public
OpenAPI document, as the admin's other endpoints)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.db.community import Account, Comment
from app.db.models import Job
from app.jobs.queue import update_details
from app.people.account_admin import (
    AccountRow,
    list_accounts,
    set_account_allowance,
    set_disabled,
)
from app.people.account_links import INVITE_DAYS, RESET_HOURS, new_invite, new_reset
from app.people.accounts import find_account
from app.people.allowances import ACCOUNTS, ANONYMOUS, set_studio_allowance
from app.people.reports import Action, OpenReport, find_report, open_reports, resolve
from app.people.social import delete_comment, set_comment_hidden
from app.people.trash import remove_for_good
from app.refusals import Refused
from app.storage import MediaStore
from app.web.access import require_admin
from app.web.community_schemas import (
    AdminAllowanceIn,
    AdminDisableIn,
    AdminReportIn,
    LinkOut,
    StudioAllowancesIn,
)
from app.web.deps import SessionDep, SettingsDep, StoreDep
from app.web.rendering import base_url, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_admin)])


def account_named(session: Session, name: str) -> Account:
    account = find_account(session, name)
    if account is None:
        raise HTTPException(404, "there is no account of that name")
    return account


def act_on_report(session: Session, store: MediaStore, report_id: int, action: Action) -> None:
    """Hide, delete or dismiss what report ``report_id`` is about (and every open report
    of the same thing)."""
    report = find_report(session, report_id)
    if report is None or report.resolved_at is not None:
        raise HTTPException(404, "no such open report")
    comment = session.get(Comment, report.comment_id) if report.comment_id else None
    job = session.get(Job, report.job_id) if report.job_id else None
    resolve(session, report, action)
    if action == "hide":
        if comment is not None:
            set_comment_hidden(session, comment, True)
        elif job is not None:
            update_details(session, job, hidden=True)
    elif action == "delete":
        if comment is not None:
            delete_comment(session, comment)
        elif job is not None:
            remove_for_good(session, store, job)


def parse_units(text: str) -> float | None:
    """A form's allowance: blank for no limit, else a number."""
    text = text.strip().replace(",", "")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise Refused(f"an allowance is a number of work units, or blank for no limit; "
                      f"not {text[:20]!r}") from None


def link_page(request: Request, title: str, link: str, note: str) -> Response:
    response = render(request, "admin_link.html", title=title, link=link, note=note)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def reset_link(request: Request, session: Session, public_url: str, name: str) -> str:
    token = new_reset(session, account_named(session, name))
    return f"{base_url(request, public_url)}/account/reset#{token}"


def invite_link(request: Request, session: Session, public_url: str) -> str:
    return f"{base_url(request, public_url)}/signup#invite={new_invite(session)}"


# ----------------------------------------------------------------------------- JSON
@router.get("/api/admin/reports", response_model=list[OpenReport])
def api_reports(session: SessionDep) -> list[OpenReport]:
    """The reports waiting, oldest first."""
    return open_reports(session)


@router.post("/api/admin/reports/{report_id}", status_code=204)
def api_resolve(report_id: int, body: AdminReportIn, session: SessionDep,
                store: StoreDep) -> Response:
    act_on_report(session, store, report_id, body.action)
    return Response(status_code=204)


@router.get("/api/admin/accounts", response_model=list[AccountRow])
def api_accounts(session: SessionDep, search: str = "") -> list[AccountRow]:
    return list_accounts(session, search[:40])


@router.post("/api/admin/accounts/{name}/disable", status_code=204)
def api_disable(name: str, body: AdminDisableIn, session: SessionDep) -> Response:
    set_disabled(session, account_named(session, name), body.disabled)
    return Response(status_code=204)


@router.post("/api/admin/accounts/{name}/reset-link", response_model=LinkOut)
def api_reset_link(name: str, request: Request, session: SessionDep,
                   settings: SettingsDep) -> LinkOut:
    """A one-time password link for the account (hand it over; it is shown once)."""
    return LinkOut(link=reset_link(request, session, settings.public_url, name))


@router.put("/api/admin/accounts/{name}/allowance", status_code=204)
def api_account_allowance(name: str, body: AdminAllowanceIn, session: SessionDep) -> Response:
    set_account_allowance(session, account_named(session, name), body.units)
    return Response(status_code=204)


@router.put("/api/admin/allowances", status_code=204)
def api_allowances(body: StudioAllowancesIn, session: SessionDep) -> Response:
    set_studio_allowance(session, ANONYMOUS, body.anonymous)
    set_studio_allowance(session, ACCOUNTS, body.accounts)
    return Response(status_code=204)


@router.post("/api/admin/invites", response_model=LinkOut)
def api_invite(request: Request, session: SessionDep, settings: SettingsDep) -> LinkOut:
    """A one-time invite link (for ``DREAMGEN_SIGNUP=invite``)."""
    return LinkOut(link=invite_link(request, session, settings.public_url))


# ----------------------------------------------------------------------------- forms
@router.post("/admin/reports/{report_id}")
def resolve_form(report_id: int, session: SessionDep, store: StoreDep,
                 action: Annotated[str, Form(max_length=16)] = "dismiss") -> Response:
    if action not in ("hide", "delete", "dismiss"):
        raise Refused("the action is hide, delete or dismiss")
    act_on_report(session, store, report_id, action)  # type: ignore[arg-type]
    return RedirectResponse("/admin?notice=report-resolved#reports", status_code=303)


@router.post("/admin/accounts/{name}/disable")
def disable_form(name: str, session: SessionDep,
                 disabled: Annotated[bool, Form()] = True) -> Response:
    set_disabled(session, account_named(session, name), disabled)
    notice = "account-disabled" if disabled else "account-enabled"
    return RedirectResponse(f"/admin?notice={notice}#accounts", status_code=303)


@router.post("/admin/accounts/{name}/allowance")
def account_allowance_form(name: str, session: SessionDep,
                           units: Annotated[str, Form(max_length=40)] = "") -> Response:
    set_account_allowance(session, account_named(session, name), parse_units(units))
    return RedirectResponse("/admin?notice=allowance-saved#accounts", status_code=303)


@router.post("/admin/allowances")
def allowances_form(session: SessionDep,
                    anonymous: Annotated[str, Form(max_length=40)] = "",
                    accounts: Annotated[str, Form(max_length=40)] = "") -> Response:
    set_studio_allowance(session, ANONYMOUS, parse_units(anonymous))
    set_studio_allowance(session, ACCOUNTS, parse_units(accounts))
    return RedirectResponse("/admin?notice=allowance-saved#allowances", status_code=303)


@router.post("/admin/accounts/{name}/reset-link", response_class=HTMLResponse)
def reset_link_form(name: str, request: Request, session: SessionDep,
                    settings: SettingsDep) -> Response:
    link = reset_link(request, session, settings.public_url, name)
    return link_page(request, f"A password link for {name}", link,
                     f"It works once, for {RESET_HOURS} hours; an earlier one stops "
                     "working. Hand it to its owner yourself: whoever opens it chooses the "
                     "password.")


@router.post("/admin/invites", response_class=HTMLResponse)
def invite_form(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    link = invite_link(request, session, settings.public_url)
    return link_page(request, "An invite link", link,
                     f"It makes one account, within {INVITE_DAYS} days. Hand it to the "
                     "person you invite.")
