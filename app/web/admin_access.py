"""Who may use the admin page: the holder of ``DREAMGEN_ADMIN_TOKEN``, or, while no token is
set, a browser on the server itself.

* **With a token**, a request carries it as ``Authorization: Bearer <token>`` (scripts, the
  JSON endpoints) or carries the cookie the page's sign-in form sets. The cookie never holds
  the token: it is ``<issued>.<HMAC-SHA256(key, "<issued>.<token>")>`` with a random key per
  process, so a restart or a new token signs everyone out, and a cookie older than
  :data:`SESSION_S` is refused. Every comparison is :func:`hmac.compare_digest`. The token
  is then needed from loopback too (a reverse proxy on the same machine makes everyone
  look local).
* **Without a token**, only loopback clients (127.0.0.0/8, ::1) get in: the TCP peer, or the
  visitor when ``DREAMGEN_TRUSTED_PROXIES`` lets a proxy say who that is. A request that
  carries forwarding headers is refused all the same (a proxy on this machine may be
  relaying anyone; behind a proxy, set the token), and so is one whose ``Host`` is not a
  loopback name (a DNS-rebinding page in the admin's browser).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time

from fastapi import Request

ADMIN_COOKIE = "dreamgen_admin"
SESSION_S = 12 * 3600
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")

NEEDS_SIGN_IN = ("Sign in with the admin token (DREAMGEN_ADMIN_TOKEN) on /admin: only the "
                 "admin manages weights, styles and results.")
WRONG_TOKEN = "That admin token is wrong."
ONLY_LOCAL = ("The admin page answers only on the server itself while DREAMGEN_ADMIN_TOKEN is "
              "unset. Open it from that machine, or set DREAMGEN_ADMIN_TOKEN to sign in "
              "from elsewhere.")
VIA_PROXY = ("This request came through a proxy, so it may not come from this machine; set "
             "DREAMGEN_ADMIN_TOKEN to sign in.")
NOT_LOOPBACK_HOST = ("Without DREAMGEN_ADMIN_TOKEN the admin page must be opened as "
                     "http://localhost or http://127.0.0.1 on the server itself.")


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


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is a loopback address (IPv4-mapped IPv6 included)."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def _host_is_loopback_name(request: Request) -> bool:
    host = request.headers.get("host", "").lower()
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name in LOOPBACK_NAMES


def token_refusal(request: Request, token: str, key: bytes) -> str | None:
    """Why a request is refused when a token is set (None: it holds the token or a cookie)."""
    given = bearer_token(request)
    if given is not None:
        return None if hmac.compare_digest(given.encode(), token.encode()) else WRONG_TOKEN
    return None if cookie_is_valid(key, token, request.cookies.get(ADMIN_COOKIE)) \
        else NEEDS_SIGN_IN


def local_refusal(request: Request) -> str | None:
    """Why a request is refused when no token is set (None: it comes from this machine)."""
    if not is_loopback(request.client.host if request.client else None):
        return ONLY_LOCAL
    if any(name in request.headers for name in FORWARDING_HEADERS):
        return VIA_PROXY
    return None if _host_is_loopback_name(request) else NOT_LOOPBACK_HOST


def admin_refusal(request: Request, key: bytes) -> str | None:
    """Why this request may not use the admin page, in words; None when it may."""
    token = request.app.state.settings.admin_token
    return token_refusal(request, token, key) if token else local_refusal(request)


def served_over_https(request: Request) -> bool:
    """Over https directly, or behind a proxy whose public URL is https (Secure cookie)."""
    public_url = request.app.state.settings.public_url.lower()
    return request.url.scheme == "https" or public_url.startswith("https://")
