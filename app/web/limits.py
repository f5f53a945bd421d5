"""Request limits applied before any work: body size (from Content-Length) and jobs per
client per minute."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.web.errors import UploadRejected

UPLOAD_PATHS = ("/api/jobs", "/create")
MAX_FILES_PER_JOB = 9       # content + up to 8 styles


class BodySizeMiddleware:
    """Refuse an upload whose declared size is over what any valid job could need, before
    the multipart body is read (plain ASGI, so streamed responses pass untouched). Each file
    is checked again while it is read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" \
                and scope["path"] in UPLOAD_PATHS:
            limit_mb = scope["app"].state.settings.max_upload_mb
            declared = Headers(scope=scope).get("content-length", "")
            if declared.isdigit() and int(declared) > (limit_mb * MAX_FILES_PER_JOB + 1) * 2**20:
                message = f"the upload is larger than the {limit_mb} MiB per-file limit allows"
                response = JSONResponse({"detail": message}, status_code=413) \
                    if scope["path"].startswith("/api/") else \
                    scope["app"].state.templates.TemplateResponse(
                        Request(scope), "error.html",
                        {"title": "That didn't work", "message": message}, status_code=413)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class RateLimiter:
    """At most ``per_minute`` jobs per client address in any 60 s window (in memory).

    The table is bounded: it forgets the least recently seen addresses beyond
    ``max_clients`` (a flood of made-up addresses cannot grow it without limit), and an
    address whose last job is over a minute old takes no room at all."""

    def __init__(self, per_minute: int, max_clients: int = 10_000) -> None:
        self.per_minute = per_minute
        self.max_clients = max_clients
        self._times: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._times)

    def check(self, client: str) -> None:
        """Count one job for ``client`` or raise a 429 :class:`UploadRejected`."""
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        with self._lock:
            times = self._times.pop(client, None) or deque()
            while times and now - times[0] > 60:
                times.popleft()
            self._times[client] = times          # most recently seen last
            if len(times) >= self.per_minute:
                wait = max(1, math.ceil(60 - (now - times[0])))
                raise UploadRejected(f"too many jobs: the limit is {self.per_minute} a minute; "
                                     f"try again in {wait} s", status_code=429,
                                     headers={"Retry-After": str(wait)})
            times.append(now)
            self._forget_old(now)

    def _forget_old(self, now: float) -> None:
        while len(self._times) > self.max_clients:
            self._times.popitem(last=False)
        for client in list(self._times)[:64]:      # oldest first: expire a few each call
            if self._times[client] and now - self._times[client][-1] <= 60:
                break
            del self._times[client]


def check_rate(request: Request) -> None:
    """Apply the app's rate limit to this request's client address."""
    client = request.client.host if request.client else "unknown"
    request.app.state.rate_limiter.check(client)
