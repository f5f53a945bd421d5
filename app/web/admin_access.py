"""Who may use the admin page: the holder of the admin token (:mod:`app.admin_token`: the one
in ``DREAMGEN_ADMIN_TOKEN``, else the one the studio made in its data folder). Nobody gets in
because of the address they come from: a reverse proxy on the same machine makes every
visitor look local.

A request carries the token as ``Authorization: Bearer <token>`` (scripts, the JSON
endpoints, ``/metrics``) or carries the cookie the page's sign-in form sets. The cookie never
holds the token: it is ``<issued>.<HMAC-SHA256(key, "<issued>.<token>")>`` with a random key
per process, so a restart or a new token signs everyone out, and a cookie older than
:data:`SESSION_S` is refused. Every comparison is :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time

from fastapi import Request

from app.admin_token import AdminTokenError

ADMIN_COOKIE = "dreamgen_admin"
SESSION_S = 12 * 3600

NEEDS_SIGN_IN = ("Sign in with the admin token. The server printed a sign-in link when it "
                 "started, and the command `dreamgen admin token`, run on the server, prints "
                 "it again. The token is kept in the file admin-token in the data folder of "
                 "the studio, or set in DREAMGEN_ADMIN_TOKEN.")
WRONG_TOKEN = "That admin token is wrong."
TOKEN_UNREADABLE = ("The server cannot read its admin token just now, so nobody can sign in; "
                    "its log says why.")
log = logging.getLogger("dreamgen.web")


def session_cookie(key: bytes, token: str, issued: int | None = None) -> str:
    """The sign-in cookie's value for ``token``, issued at ``issued`` (default: now)."""
    issued = int(time.time()) if issued is None else issued
    mac = hmac.new(key, f"{issued}.{token}".encode(), hashlib.sha256).hexdigest()
    return f"{issued}.{mac}"


def cookie_is_valid(key: bytes, token: str, value: str | None) -> bool:
    """Whether ``value`` is a cookie :func:`session_cookie` made for ``token`` less than
    :data:`SESSION_S` ago."""
    issued, _, _ = (value or "").partition(".")
    if not issued.isdigit() or not 0 <= time.time() - int(issued) < SESSION_S:
        return False
    return hmac.compare_digest(session_cookie(key, token, int(issued)).encode(),
                               (value or "").encode())


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if there is one."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def current_token(request: Request) -> str:
    """This studio's admin token now (:class:`~app.admin_token.AdminTokenError` when its
    file cannot be read)."""
    return request.app.state.admin_token.current()


def token_refusal(request: Request, token: str, key: bytes) -> str | None:
    """Why a request is refused (None: it holds the token or a valid cookie)."""
    given = bearer_token(request)
    if given is not None:
        return None if hmac.compare_digest(given.encode(), token.encode()) else WRONG_TOKEN
    return None if cookie_is_valid(key, token, request.cookies.get(ADMIN_COOKIE)) \
        else NEEDS_SIGN_IN


def readable_token(request: Request) -> str | None:
    """This studio's admin token now; None (and the reason in the log, since it names a
    server path) when its file cannot be read."""
    try:
        return current_token(request)
    except AdminTokenError as exc:
        log.error("%s", exc)
        return None


def admin_refusal(request: Request, key: bytes) -> str | None:
    """Why this request may not use the admin page, in words; None when it may."""
    if bearer_token(request) is None and ADMIN_COOKIE not in request.cookies:
        return NEEDS_SIGN_IN        # every page asks: no token file read for visitors
    token = readable_token(request)
    return TOKEN_UNREADABLE if token is None else token_refusal(request, token, key)


def served_over_https(request: Request) -> bool:
    """Over https directly, or behind a proxy whose public URL is https (Secure cookie)."""
    public_url = request.app.state.settings.public_url.lower()
    return request.url.scheme == "https" or public_url.startswith("https://")
