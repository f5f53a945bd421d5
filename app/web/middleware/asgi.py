"""A base for the app's plain-ASGI middlewares (plain ASGI, not ``BaseHTTPMiddleware``, so
streamed responses such as server-sent events pass through untouched)."""

from __future__ import annotations

from typing import Callable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HTTPMiddleware:
    """Passes everything but HTTP requests straight on; subclasses implement :meth:`handle`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


def editing_headers(send: Send, edit: Callable[[MutableHeaders], None]) -> Send:
    """``send``, with ``edit`` given the response's headers just before they go out."""
    async def send_edited(message: Message) -> None:
        if message["type"] == "http.response.start":
            edit(MutableHeaders(scope=message))
        await send(message)
    return send_edited
