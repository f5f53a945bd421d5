"""Signing up, in and out, and the admin's password links: the JSON API
(``/api/auth/...``) and the pages (``/signup``, ``/signin``, ``/signout``,
``/account/reset``), which work without JavaScript.

Every sign-in and sign-up starts a new session (the id the browser brought, if any, ends:
no fixation), gives the browser a fresh owner cookie for when it signs out, and makes the
jobs of the browser's own owner id (and of the one it keeps while showing a key link's
results) the account's. Wrong passwords are limited per name and per address
(:mod:`app.web.sign_in_guard`); an unknown name and a wrong password get the same answer
after the same work (:mod:`app.people.accounts`). The password link's token travels in the
URL's fragment (``/account/reset#<token>``), never to the server but in the form's POST.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Callable

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.db.community import Account
from app.people.account_links import use_token
from app.people.account_sessions import end_session, start_session
from app.people.accounts import (
    account_by_id,
    authenticate,
    create_account,
    name_key,
    set_password,
    sign_in_carry_over,
)
from app.people.allowances import allowance_of
from app.people.owner_keys import count_jobs
from app.people.passwords import check_password_rules
from app.refusals import Refused
from app.settings import Settings
from app.web.community_schemas import (
    COMMUNITY_ERRORS,
    AccountOut,
    AuthIn,
    ResetIn,
    allowance_out,
    avatar_url,
)
from app.web.deps import SessionDep, SettingsDep
from app.web.errors import status_for
from app.web.middleware.owner import (
    HOME_COOKIE,
    cookie_header,
    keep_private,
    owner_cookie,
)
from app.web.rendering import render
from app.web.signed_in import (
    MaybeAccountDep,
    address_of,
    browser_owner,
    community_limits,
    local_path,
    session_cookie,
    session_token_of,
    signed_out_cookies,
)

router = APIRouter()
SIGNUP_CLOSED = "sign-up is closed on this studio: the admin makes no new accounts"
NEEDS_INVITE = ("sign-up on this studio is by invitation: open the invite link the admin "
                "gave you, or paste it here")


@dataclass(frozen=True)
class Started:
    """A sign-in or sign-up that worked: the account, its new session id, the jobs that
    became its own."""

    account: Account
    token: str
    carried_over: int


def browser_ids(request: Request) -> list[str]:
    """The owner ids that are this browser's own: its cookie's, and the one it keeps while
    it shows a key link's results."""
    ids = [browser_owner(request), request.cookies.get(HOME_COOKIE) or ""]
    return [i for i in dict.fromkeys(ids) if i]


def sign_up(request: Request, session: Session, settings: Settings, name: str, password: str,
            invite: str | None) -> Started:
    """Make the account (as ``DREAMGEN_SIGNUP`` allows) and sign it in."""
    if settings.signup == "closed":
        raise Refused(SIGNUP_CLOSED, 403)
    community_limits(request).sign_ups.check(address_of(request))
    if settings.signup == "invite" and not (invite or "").strip():
        raise Refused(NEEDS_INVITE, 403)
    first, *others = browser_ids(request)
    account = create_account(session, name, password, first,
                             invite.strip().rsplit("#", 1)[-1].removeprefix("invite=")
                             if settings.signup == "invite" and invite else None)
    for other in others:
        sign_in_carry_over(session, other, account)
    token = start_session(session, account, settings.session_days, session_token_of(request))
    # a new account has only what it was given
    return Started(account, token, count_jobs(session, account.owner_id))


def sign_in(request: Request, session: Session, settings: Settings, name: str,
            password: str) -> Started:
    """Check the password (limited per name and address) and sign the account in."""
    guard, key, address = community_limits(request).sign_ins, name_key(name)[:64], \
        address_of(request)
    guard.check(key, address)
    try:
        account = authenticate(session, name, password)
    except Refused as exc:
        if exc.status_code == 401:
            guard.failed(key, address)
        raise
    guard.succeeded(key)
    moved = sum(sign_in_carry_over(session, owner, account) for owner in browser_ids(request))
    token = start_session(session, account, settings.session_days, session_token_of(request))
    return Started(account, token, moved)


def signed_in_headers(request: Request, response: Response, started: Started,
                      settings: Settings) -> Response:
    """The new session's cookie, a fresh owner cookie for after signing out, and no more
    key link shown: the account is this browser's now."""
    scope = request.scope
    response.headers.append("set-cookie", session_cookie(started.token, scope,
                                                         settings.session_days))
    response.headers.append("set-cookie", owner_cookie(secrets.token_urlsafe(24), scope))
    response.headers.append("set-cookie", cookie_header(HOME_COOKIE, "", scope, max_age=0))
    return keep_private(response)


def account_out(session: Session, account: Account, carried_over: int = 0) -> AccountOut:
    return AccountOut(username=account.username,
                      display_name=account.display_name or account.username, bio=account.bio,
                      avatar=avatar_url(account.username, account.avatar_path is not None),
                      profile=f"/u/{account.username}",
                      allowance=allowance_out(allowance_of(session, account.owner_id)),
                      carried_over=carried_over)


# ----------------------------------------------------------------------------- JSON
@router.post("/api/auth/signup", status_code=201, response_model=AccountOut, tags=["accounts"],
             responses=COMMUNITY_ERRORS)
def api_sign_up(body: AuthIn, request: Request, response: Response, session: SessionDep,
                settings: SettingsDep) -> AccountOut:
    """Make an account (``DREAMGEN_SIGNUP``: open, invite with ``invite``, or closed) and
    sign in: the session cookie is set, and this browser's jobs become the account's."""
    started = sign_up(request, session, settings, body.username, body.password, body.invite)
    signed_in_headers(request, response, started, settings)
    return account_out(session, started.account, started.carried_over)


@router.post("/api/auth/signin", response_model=AccountOut, tags=["accounts"],
             responses=COMMUNITY_ERRORS)
def api_sign_in(body: AuthIn, request: Request, response: Response, session: SessionDep,
                settings: SettingsDep) -> AccountOut:
    """Sign in (the session cookie is set; this browser's jobs become the account's). 401
    for a wrong name or password alike; 429 after nine wrong passwords in a minute."""
    started = sign_in(request, session, settings, body.username, body.password)
    signed_in_headers(request, response, started, settings)
    return account_out(session, started.account, started.carried_over)


@router.post("/api/auth/signout", status_code=204, tags=["accounts"])
def api_sign_out(request: Request, session: SessionDep) -> Response:
    """Sign out: the session ends, and this browser goes on anonymously with a fresh id."""
    return signed_out(request, session, Response(status_code=204))


@router.get("/api/auth/me", response_model=AccountOut, tags=["accounts"],
            responses=COMMUNITY_ERRORS)
def api_me(request: Request, response: Response, session: SessionDep,
           who: MaybeAccountDep) -> AccountOut:
    """The signed-in account (401: nobody is signed in on this browser)."""
    keep_private(response)
    account = account_by_id(session, who.account_id) if who else None
    if account is None:
        raise Refused("nobody is signed in on this browser", 401)
    return account_out(session, account)


@router.post("/api/auth/reset", response_model=AccountOut, tags=["accounts"],
             responses=COMMUNITY_ERRORS)
def api_reset(body: ResetIn, request: Request, response: Response, session: SessionDep,
              settings: SettingsDep) -> AccountOut:
    """Choose a new password with the admin's one-time link, and sign in."""
    started = reset_password(request, session, settings, body.token, body.new)
    signed_in_headers(request, response, started, settings)
    return account_out(session, started.account)


def signed_out(request: Request, session: Session, response: Response) -> Response:
    token = session_token_of(request)
    if token:
        end_session(session, token)
    for cookie in signed_out_cookies(request.scope):
        response.headers.append("set-cookie", cookie)
    return keep_private(response)


def reset_password(request: Request, session: Session, settings: Settings, token: str,
                   new: str) -> Started:
    """Spend the password link ``token``, set ``new`` (every session of the account ends)
    and sign in."""
    check_password_rules(new)                # before the link is spent
    link = use_token(session, token.strip().rsplit("#", 1)[-1], "reset")
    account = account_by_id(session, link.account_id or 0)
    if account is None or account.disabled_at is not None:
        session.rollback()
        raise Refused("that account is not there any more", 404)
    set_password(session, account, new)     # commits the spent link with it
    token_new = start_session(session, account, settings.session_days,
                              session_token_of(request))
    return Started(account, token_new, 0)


# ----------------------------------------------------------------------------- pages
def auth_page(request: Request, mode: str, status_code: int = 200, **context: Any) -> Response:
    settings = request.app.state.settings
    response = render(request, "auth.html", status_code=status_code, mode=mode,
                      signup=settings.signup, next=local_path(context.pop("next", "")),
                      **context)
    response.headers["Referrer-Policy"] = "no-referrer"
    return keep_private(response)


@router.get("/signin", response_class=HTMLResponse, include_in_schema=False)
def sign_in_page(request: Request, next: str = "") -> Response:
    return auth_page(request, "signin", next=next)


@router.get("/signup", response_class=HTMLResponse, include_in_schema=False)
def sign_up_page(request: Request, next: str = "") -> Response:
    return auth_page(request, "signup", next=next)


@router.get("/account/reset", response_class=HTMLResponse, include_in_schema=False)
def reset_page(request: Request) -> Response:
    return auth_page(request, "reset")


def after(request: Request, started: Started, settings: Settings, location: str) -> Response:
    return signed_in_headers(request, RedirectResponse(location, status_code=303), started,
                             settings)


def form_result(request: Request, mode: str, settings: Settings, start: Callable[[], Started],
                username: str, next: str, landing: str) -> Response:
    """A sign-in or sign-up form's answer: signed in and on to ``next`` (else
    ``landing``), or the form again with the refusal and the name as typed."""
    try:
        started = start()
    except Refused as exc:
        response = auth_page(request, mode, status_for(exc), error=str(exc),
                             username=username, next=next)
        response.headers.update(exc.headers or {})
        return response
    return after(request, started, settings, local_path(next) or landing)


@router.post("/signin", include_in_schema=False)
def sign_in_form(request: Request, session: SessionDep, settings: SettingsDep,
                 username: Annotated[str, Form(max_length=100)] = "",
                 password: Annotated[str, Form(max_length=400)] = "",
                 next: Annotated[str, Form(max_length=2000)] = "") -> Response:
    return form_result(request, "signin", settings,
                       lambda: sign_in(request, session, settings, username, password),
                       username, next, "/me?notice=signed-in")


@router.post("/signup", include_in_schema=False)
def sign_up_form(request: Request, session: SessionDep, settings: SettingsDep,
                 username: Annotated[str, Form(max_length=100)] = "",
                 password: Annotated[str, Form(max_length=400)] = "",
                 invite: Annotated[str, Form(max_length=200)] = "",
                 next: Annotated[str, Form(max_length=2000)] = "") -> Response:
    return form_result(request, "signup", settings,
                       lambda: sign_up(request, session, settings, username, password,
                                       invite or None),
                       username, next, "/account?notice=welcome")


@router.post("/signout", include_in_schema=False)
def sign_out_form(request: Request, session: SessionDep) -> Response:
    return signed_out(request, session, RedirectResponse("/?notice=signed-out",
                                                         status_code=303))


@router.post("/account/reset", include_in_schema=False)
def reset_form(request: Request, session: SessionDep, settings: SettingsDep,
               token: Annotated[str, Form(max_length=200)] = "",
               new: Annotated[str, Form(max_length=400)] = "") -> Response:
    try:
        started = reset_password(request, session, settings, token, new)
    except Refused as exc:
        return auth_page(request, "reset", status_for(exc), error=str(exc))
    return after(request, started, settings, "/account?notice=password-set")
