"""Signed-in browsers: the account session cookie (``dreamgen_session``) read on every
request that carries one.

A live session makes the request act as its account's owner id (``request.state.owner_id``)
instead of the browser's own, so every "is this yours" check treats an account's jobs as a
browser's; the browser's own id stays in ``request.state.browser_owner_id`` and the account
in ``request.state.account`` (a :class:`~app.people.account_sessions.SignedIn`, None when
anonymous). A request without the cookie does no database work here: anonymous use is
exactly as before. Runs inside :class:`~app.web.middleware.owner.OwnerCookieMiddleware`.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie

import anyio
from starlette.types import Receive, Scope, Send

from app.people.account_sessions import SignedIn, signed_in
from app.web.middleware.asgi import HTTPMiddleware

SESSION_COOKIE = "dreamgen_session"


def session_token(scope: Scope) -> str | None:
    """The session cookie's value, if the request carries one."""
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            try:
                morsel = SimpleCookie(value.decode("latin-1")).get(SESSION_COOKIE)
            except CookieError:
                return None
            if morsel is not None and morsel.value:
                return morsel.value
    return None


def _lookup(scope: Scope, token: str) -> SignedIn | None:
    factory = getattr(scope["app"].state, "session_factory", None)
    if factory is None:
        return None
    with factory() as session:
        return signed_in(session, token)


class AccountSessionMiddleware(HTTPMiddleware):
    """Put the signed-in account (or None) in ``request.state.account``."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.setdefault("state", {})
        state["browser_owner_id"] = state.get("owner_id")
        state["account"] = None
        token = session_token(scope)
        if token:
            who = await anyio.to_thread.run_sync(_lookup, scope, token)
            if who is not None:
                state["account"] = who
                state["owner_id"] = who.owner_id
        await self.app(scope, receive, send)
