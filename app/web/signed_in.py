"""Accounts, for the routers: who is signed in (:data:`MaybeAccountDep`, or
:data:`AccountDep` for what needs an account: 401 otherwise), the session cookie, and the
per-app limits of the community's actions (sign-ins, sign-ups, comments, likes ...)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.types import Scope

from app.db.community import Account
from app.people.account_sessions import SignedIn
from app.web.deps import per_app
from app.web.limits import RateLimiter, client_address
from app.web.middleware.accounts import SESSION_COOKIE
from app.web.middleware.owner import cookie_header, owner_cookie
from app.web.sign_in_guard import SignInGuard

NEEDS_ACCOUNT = "sign in first (or make an account): this needs one"


def current_account(request: Request) -> SignedIn | None:
    """The signed-in account of this request (None: anonymous)."""
    return getattr(request.state, "account", None)


def require_account(request: Request) -> SignedIn:
    """The signed-in account; 401 for an anonymous visitor."""
    who = current_account(request)
    if who is None:
        raise HTTPException(401, NEEDS_ACCOUNT)
    return who


MaybeAccountDep = Annotated[SignedIn | None, Depends(current_account)]
AccountDep = Annotated[SignedIn, Depends(require_account)]


def account_row(session: Session, who: SignedIn) -> Account:
    """The signed-in account's row (401 when it went meanwhile)."""
    account = session.get(Account, who.account_id)
    if account is None or account.disabled_at is not None:
        raise HTTPException(401, NEEDS_ACCOUNT)
    return account


def sign_in_redirect(request: Request) -> Response:
    """To the sign-in page, coming back here after."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/signin?next={quote(here, safe='')}", status_code=303)


def local_path(target: str) -> str:
    """``target`` when it is a path on this site (where to go after a form), else ""."""
    target = target.strip()
    ok = target.startswith("/") and not target.startswith(("//", "/\\")) and \
        "\n" not in target and "\r" not in target
    return target if ok else ""


def browser_owner(request: Request) -> str:
    """The browser's own owner id (its cookie's), signed in or not."""
    return getattr(request.state, "browser_owner_id", None) or request.state.owner_id


def session_cookie(token: str, scope: Scope, days: int) -> str:
    """The ``Set-Cookie`` of a new session (HttpOnly, SameSite=Lax, Secure over https)."""
    return cookie_header(SESSION_COOKIE, token, scope, max_age=days * 86400)


def signed_out_cookies(scope: Scope) -> list[str]:
    """The ``Set-Cookie`` values of signing out: no session, and a fresh owner id, so
    nothing the browser does anonymously next is tied to what it did before."""
    return [cookie_header(SESSION_COOKIE, "", scope, max_age=0),
            owner_cookie(secrets.token_urlsafe(24), scope)]


def session_token_of(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


@dataclass
class CommunityLimits:
    """Per app: wrong passwords, and how often one may sign up (per address) and comment,
    like, follow, report and collect (per account) in a minute."""

    sign_ins: SignInGuard = field(default_factory=SignInGuard)
    sign_ups: RateLimiter = field(default_factory=lambda: RateLimiter(5, what="sign-ups"))
    comments: RateLimiter = field(default_factory=lambda: RateLimiter(6, what="comments"))
    likes: RateLimiter = field(default_factory=lambda: RateLimiter(60, what="likes"))
    follows: RateLimiter = field(default_factory=lambda: RateLimiter(30, what="follows"))
    reports: RateLimiter = field(default_factory=lambda: RateLimiter(10, what="reports"))
    changes: RateLimiter = field(default_factory=lambda: RateLimiter(60, what="changes"))


def community_limits(request: Request) -> CommunityLimits:
    """This app's :class:`CommunityLimits`, made on first use."""
    return per_app(request, "community_limits", CommunityLimits)


def count_action(limiter: RateLimiter, who: SignedIn) -> None:
    """Count one action of ``who`` on ``limiter`` (429 beyond its limit, per account)."""
    limiter.check(f"account:{who.account_id}")


def address_of(request: Request) -> str:
    return client_address(request.scope)
