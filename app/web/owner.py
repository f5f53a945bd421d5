"""The owner cookie: a random id given on the first visit that marks whose jobs are whose.

There are no accounts; whoever holds the cookie may cancel and delete the jobs it created.
"""

from __future__ import annotations

import secrets
from typing import Awaitable, Callable

from fastapi import Request, Response

OWNER_COOKIE = "dreamgen_owner"
ONE_YEAR_S = 365 * 24 * 3600


def _valid(value: str | None) -> bool:
    return bool(value) and 16 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum()


async def owner_cookie_middleware(request: Request,
                                  call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Put the visitor's owner id in ``request.state.owner_id``, minting one if needed."""
    owner = request.cookies.get(OWNER_COOKIE)
    is_new = not _valid(owner)
    request.state.owner_id = secrets.token_urlsafe(24) if is_new else owner
    response = await call_next(request)
    if is_new:
        response.set_cookie(OWNER_COOKIE, request.state.owner_id, max_age=ONE_YEAR_S,
                            httponly=True, samesite="lax", secure=request.url.scheme == "https")
    return response
