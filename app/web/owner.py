"""The owner cookie: a random id given on the first visit that marks whose jobs are whose.

There are no accounts; whoever holds the cookie may cancel and delete the jobs it created.
A plain ASGI middleware (not ``BaseHTTPMiddleware``) so streamed responses such as the
server-sent events pass through untouched.
"""

from __future__ import annotations

import secrets
from http.cookies import SimpleCookie

from starlette.datastructures import MutableHeaders
from starlette.types import Receive, Scope, Send

from app.web.asgi import HTTPMiddleware, editing_headers

OWNER_COOKIE = "dreamgen_owner"
ONE_YEAR_S = 365 * 24 * 3600


def _valid(value: str | None) -> bool:
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


def owner_cookie(owner: str, scope: Scope) -> str:
    """The ``Set-Cookie`` value that gives this browser the owner id ``owner``."""
    secure = "; Secure" if _served_over_https(scope) else ""
    return (f"{OWNER_COOKIE}={owner}; Max-Age={ONE_YEAR_S}; Path=/; HttpOnly; "
            f"SameSite=Lax{secure}")


class OwnerCookieMiddleware(HTTPMiddleware):
    """Put the visitor's owner id in ``request.state.owner_id``, minting one if needed."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        owner = _cookie_value(scope)
        is_new = not _valid(owner)
        owner = secrets.token_urlsafe(24) if is_new else owner
        scope.setdefault("state", {})["owner_id"] = owner

        def set_cookie(headers: MutableHeaders) -> None:
            # a route that gave the browser another owner id (/me/key) has the last word
            adopted = any(v.startswith(f"{OWNER_COOKIE}=") for v in headers.getlist("set-cookie"))
            if is_new and not adopted:
                headers.append("set-cookie", owner_cookie(owner, scope))

        await self.app(scope, receive, editing_headers(send, set_cookie))
