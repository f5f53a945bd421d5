"""Request limits applied before any work: body size (from Content-Length) and jobs per
client per minute."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from typing import Awaitable, Callable

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from app.web.errors import UploadRejected

UPLOAD_PATHS = ("/api/jobs", "/create")
MAX_FILES_PER_JOB = 9       # content + up to 8 styles


async def body_size_middleware(request: Request,
                               call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Refuse an upload whose declared size is over what any valid job could need, before
    the multipart body is read. Each file is checked again while it is read."""
    if request.method == "POST" and request.url.path in UPLOAD_PATHS:
        limit_mb = request.app.state.settings.max_upload_mb
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > (limit_mb * MAX_FILES_PER_JOB + 1) * 2**20:
            return JSONResponse({"detail": f"the upload is larger than the {limit_mb} MiB "
                                           "per-file limit allows"}, status_code=413)
    return await call_next(request)


class RateLimiter:
    """At most ``per_minute`` jobs per client address in any 60 s window (in memory)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._times: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Count one job for ``client`` or raise a 429 :class:`UploadRejected`."""
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        with self._lock:
            times = self._times[client]
            while times and now - times[0] > 60:
                times.popleft()
            if len(times) >= self.per_minute:
                wait = 60 - (now - times[0])
                raise UploadRejected(f"too many jobs: the limit is {self.per_minute} a minute; "
                                     f"try again in {wait:.0f} s", status_code=429)
            times.append(now)


def check_rate(request: Request) -> None:
    """Apply the app's rate limit to this request's client address."""
    client = request.client.host if request.client else "unknown"
    request.app.state.rate_limiter.check(client)
