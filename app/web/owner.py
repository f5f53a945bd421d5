"""The owner cookie: a random id given on the first visit that marks whose jobs are whose.

There are no accounts; whoever holds the cookie may cancel and delete the jobs it created.
A plain ASGI middleware (not ``BaseHTTPMiddleware``) so streamed responses such as the
server-sent events pass through untouched.
"""

from __future__ import annotations

import secrets
from http.cookies import SimpleCookie

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class OwnerCookieMiddleware:
    """Put the visitor's owner id in ``request.state.owner_id``, minting one if needed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        owner = _cookie_value(scope)
        is_new = not _valid(owner)
        owner = secrets.token_urlsafe(24) if is_new else owner
        scope.setdefault("state", {})["owner_id"] = owner

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and is_new:
                secure = "; Secure" if _served_over_https(scope) else ""
                MutableHeaders(scope=message).append(
                    "set-cookie", f"{OWNER_COOKIE}={owner}; Max-Age={ONE_YEAR_S}; Path=/; "
                                  f"HttpOnly; SameSite=Lax{secure}")
            await send(message)

        await self.app(scope, receive, send_with_cookie)
