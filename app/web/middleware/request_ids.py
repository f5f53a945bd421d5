"""A request id on every request, and a readable answer (never a bare 500) when something
breaks.

Every request gets an id (a sane incoming ``X-Request-ID`` from a proxy is kept, else a new
one), sent back in the ``X-Request-ID`` header. An unhandled error is logged with its
traceback and that id, and the person sees a page (or JSON ``detail`` under ``/api/``) that
says something went wrong on our side and gives the id to quote.
"""

from __future__ import annotations

import logging
import re
import secrets

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from app.web.middleware.asgi import HTTPMiddleware, editing_headers

log = logging.getLogger("dreamgen.web")

HEADER = "x-request-id"
_SANE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id(scope: Scope) -> str:
    """This request's id (set by :class:`RequestIdMiddleware`)."""
    return scope.get("state", {}).get("request_id", "-")


class RequestIdMiddleware(HTTPMiddleware):
    """Give each HTTP request an id and echo it in ``X-Request-ID``."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        incoming = dict(scope.get("headers", [])).get(HEADER.encode(), b"").decode("latin-1")
        rid = incoming if _SANE.match(incoming) else secrets.token_hex(6)
        scope.setdefault("state", {})["request_id"] = rid
        await self.app(scope, receive,
                       editing_headers(send, lambda headers: headers.setdefault(HEADER, rid)))


async def internal_error_handler(request: Request, exc: Exception) -> Response:
    """Log ``exc`` with its traceback and the request id; answer 500 with that id."""
    rid = request_id(request.scope)
    log.error("unhandled error in %s %s [request %s]", request.method, request.url.path, rid,
              exc_info=(type(exc), exc, exc.__traceback__))
    message = (f"Something went wrong on our side. If it happens again, tell the studio's "
               f"admin this request id: {rid}")
    headers = {HEADER: rid}
    if request.url.path.startswith("/api/") or "text/html" not in \
            request.headers.get("accept", ""):
        return JSONResponse({"detail": message, "request_id": rid}, status_code=500,
                            headers=headers)
    try:
        return request.app.state.templates.TemplateResponse(
            request, "error.html", {"title": "Something broke", "message": message},
            status_code=500, headers=headers)
    except Exception:  # noqa: BLE001 - the templates themselves may be what broke
        return JSONResponse({"detail": message, "request_id": rid}, status_code=500,
                            headers=headers)
