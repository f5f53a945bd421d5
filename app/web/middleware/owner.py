"""The owner cookie: a random id given on the first visit that marks whose jobs are whose.

There are no accounts; whoever holds the cookie may cancel and delete the jobs it created.
Also here: the browser's own id kept while it shows a key link's results (``HOME_COOKIE``),
and :func:`keep_private` for responses that differ by this cookie and hold its owner's data.
A plain ASGI middleware (not ``BaseHTTPMiddleware``) so streamed responses such as the
server-sent events pass through untouched.
"""

from __future__ import annotations

import secrets
from http.cookies import SimpleCookie

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.web.middleware.asgi import HTTPMiddleware, editing_headers

OWNER_COOKIE = "dreamgen_owner"
# the browser's own owner id, kept while it shows the results a key link opened
HOME_COOKIE = "dreamgen_home"
ONE_YEAR_S = 365 * 24 * 3600


def valid_owner_id(value: str | None) -> bool:
    """Whether ``value`` looks like an owner id this server hands out."""
    return value is not None and 16 <= len(value) <= 64 and \
        value.replace("-", "").replace("_", "").isalnum()


def _cookie_value(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            morsel = SimpleCookie(value.decode("latin-1")).get(OWNER_COOKIE)
            if morsel is not None:
                return morsel.value
    return None


def _served_over_https(scope: Scope) -> bool:
    """Over https directly, or behind a proxy whose public URL is https."""
    public_url = scope["app"].state.settings.public_url if "app" in scope else ""
    return scope.get("scheme") == "https" or public_url.lower().startswith("https://")


def cookie_header(name: str, value: str, scope: Scope, max_age: int = ONE_YEAR_S,
                  path: str = "/", same_site: str = "Lax") -> str:
    """A ``Set-Cookie`` value for one of our cookies: ``HttpOnly``, ``Secure`` over https
    (``max_age=0`` removes it)."""
    secure = "; Secure" if _served_over_https(scope) else ""
    return (f"{name}={value}; Max-Age={max_age}; Path={path}; HttpOnly; "
            f"SameSite={same_site}{secure}")


def owner_cookie(owner: str, scope: Scope) -> str:
    """The ``Set-Cookie`` value that gives this browser the owner id ``owner``."""
    return cookie_header(OWNER_COOKIE, owner, scope)


def home_owner(request: Request) -> str | None:
    """This browser's own owner id while it shows the results of a key link instead
    (:mod:`app.web.routes.me`); None when it shows its own."""
    home = request.cookies.get(HOME_COOKIE)
    owner = getattr(request.state, "owner_id", None)
    return home if valid_owner_id(home) and home != owner else None


def vary_by_cookie(response: Response) -> Response:
    """Say that ``response`` differs by the visitor's cookies (``Vary: Cookie``)."""
    vary = [v.strip() for v in response.headers.get("Vary", "").split(",") if v.strip()]
    if "cookie" not in (v.lower() for v in vary):
        response.headers["Vary"] = ", ".join([*vary, "Cookie"])
    return response


def keep_private(response: Response) -> Response:
    """Mark ``response`` as this visitor's own (it differs by owner cookie and holds what
    is theirs): never stored by a browser's or a proxy's cache."""
    response.headers["Cache-Control"] = "private, no-store"
    return vary_by_cookie(response)


def private_response(response: Response) -> None:
    """A dependency for routes that answer with their owner's data (their job JSON):
    :func:`keep_private` on whatever they return."""
    keep_private(response)


class OwnerCookieMiddleware(HTTPMiddleware):
    """Put the visitor's owner id in ``request.state.owner_id``, minting one if needed."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        owner = _cookie_value(scope)
        is_new = not valid_owner_id(owner)
        owner = secrets.token_urlsafe(24) if is_new else owner
        scope.setdefault("state", {})["owner_id"] = owner

        def set_cookie(headers: MutableHeaders) -> None:
            # a route that gave the browser another owner id (/me/key) has the last word
            adopted = any(v.startswith(f"{OWNER_COOKIE}=") for v in headers.getlist("set-cookie"))
            if is_new and not adopted:
                headers.append("set-cookie", owner_cookie(owner, scope))

        await self.app(scope, receive, editing_headers(send, set_cookie))
