"""Request bodies guarded while they stream, before any route reads them (plain ASGI).

* **Size.** A body may be no larger than any valid request of its kind needs
  (:func:`body_limit`), counted as it arrives, whether declared (``Content-Length``) or
  chunked. One declared larger is refused at once; one that grows past the limit is cut at
  that chunk: the route sees the client leave (the form parser closes, and so removes, the
  files it spooled) and the client gets 413.
* **Speed.** While a route waits for more of the body, nothing may arrive for
  ``body_idle_seconds``, and once that long has been spent waiting the body must average
  ``body_min_kib_per_second``; else 408. Only time spent waiting for the client counts,
  never the time the server takes over what it got.
* **Rate limit first.** A create request (``POST /api/jobs``, ``POST /create``) from a client
  at its jobs-per-minute limit is refused (429 with ``Retry-After``) before its body is read
  (:meth:`app.web.limits.RateLimiter.reserve`).

Every refusal here closes the connection (the rest of the body is never read) and says why:
JSON under ``/api/``, a page elsewhere.
"""

from __future__ import annotations

import asyncio

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope, Send

from app.refusals import Refused
from app.settings import Settings
from app.web.limits import RESERVED, RateLimiter, client_address
from app.web.middleware.asgi import HTTPMiddleware

MIB = 2**20
BATCH_PATH = "/api/batches"
JOB_PATHS = ("/api/jobs", "/create", BATCH_PATH)
MAX_FILES_PER_JOB = 9           # content + up to 8 styles
SMALL_BODY = MIB                # forms and JSON, which are read into memory whole
DISCONNECT: Message = {"type": "http.disconnect"}


def is_job_upload(scope: Scope) -> bool:
    return scope["method"] == "POST" and scope["path"] in JOB_PATHS


def body_limit(scope: Scope, settings: Settings) -> int:
    """The most body bytes this request may send: a whole job's files for a create request,
    one file for any other upload (multipart), 1 MiB for anything else; a batch: its
    photos (or ZIP) and its style files."""
    if is_job_upload(scope) and scope["path"] == BATCH_PATH:
        return batch_limit(settings)
    if is_job_upload(scope):
        return (settings.max_upload_mb * MAX_FILES_PER_JOB + 1) * MIB
    if Headers(scope=scope).get("content-type", "").startswith("multipart/form-data"):
        return (settings.max_upload_mb + 1) * MIB
    return SMALL_BODY


def batch_limit(settings: Settings) -> int:
    """A batch request's most bytes: its photos (or ZIP), its style files and the form."""
    return (settings.max_batch_upload_mb + settings.max_upload_mb * (MAX_FILES_PER_JOB - 1)
            + 1) * MIB


def too_large(settings: Settings, limit: int) -> str:
    if limit == batch_limit(settings):
        return (f"the batch is larger than the {settings.max_batch_upload_mb} MiB a batch "
                "may be")
    if limit > SMALL_BODY:
        return f"the upload is larger than the {settings.max_upload_mb} MiB per-file limit allows"
    return f"the request is larger than the {limit // MIB} MiB this address accepts"


class GuardedBody:
    """A request's ``receive`` that counts its body and times its client; after a refusal it
    says the client left, so the route stops reading."""

    def __init__(self, receive: Receive, limit: int, too_large: str,
                 settings: Settings) -> None:
        self._receive = receive
        self.limit, self.too_large = limit, too_large
        self.idle_s = settings.body_idle_seconds
        self.min_rate = settings.body_min_kib_per_second * 1024
        self.size, self.waited, self.complete = 0, 0.0, False
        self.refusal: tuple[int, str] | None = None

    async def receive(self) -> Message:
        if self.refusal is not None:
            return DISCONNECT
        if self.complete:            # e.g. a stream listening for its client to leave
            return await self._receive()
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            message = await asyncio.wait_for(self._receive(), self.idle_s)
        except TimeoutError:
            return self._refuse(408, f"the upload stopped: nothing arrived for "
                                     f"{self.idle_s:g} s, so it was not kept; try again")
        self.waited += loop.time() - started
        if message["type"] != "http.request":
            return message
        self.size += len(message.get("body", b""))
        self.complete = not message.get("more_body", False)
        if self.size > self.limit:
            return self._refuse(413, self.too_large)
        if not self.complete and self.min_rate and self.waited >= self.idle_s \
                and self.size < self.waited * self.min_rate:
            return self._refuse(408, f"the upload arrived too slowly (under "
                                     f"{self.min_rate / 1024:g} KiB/s), so it was not kept; "
                                     "try again on a faster connection")
        return message

    def _refuse(self, status: int, reason: str) -> Message:
        self.refusal = (status, reason)
        return DISCONNECT


def refusal_response(scope: Scope, status: int, reason: str,
                     headers: dict[str, str] | None = None) -> Response:
    """The refusal in JSON under ``/api/``, else as a page; the connection closes after it."""
    if scope["path"].startswith("/api/"):
        response: Response = JSONResponse({"detail": reason}, status_code=status)
    else:
        response = scope["app"].state.templates.TemplateResponse(
            Request(scope), "error.html", {"title": "That didn't work", "message": reason},
            status_code=status)
    response.headers.update({**(headers or {}), "connection": "close"})
    return response


class BodyGuardMiddleware(HTTPMiddleware):
    """See the module docstring."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        settings: Settings = scope["app"].state.settings
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared in ("", "0") and "transfer-encoding" not in headers \
                and not is_job_upload(scope):
            await self.app(scope, receive, send)     # no body: nothing to guard
            return
        limit = body_limit(scope, settings)
        if declared.isdigit() and int(declared) > limit:
            await refusal_response(scope, 413, too_large(settings, limit))(
                scope, receive, send)
            return
        body = GuardedBody(receive, limit, too_large(settings, limit), settings)
        if not is_job_upload(scope):
            await self._guarded(scope, body, send)
            return
        limiter: RateLimiter = scope["app"].state.rate_limiter
        client = client_address(scope)
        try:
            limiter.reserve(client)
        except Refused as exc:
            await refusal_response(scope, 429, str(exc), exc.headers)(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state[RESERVED] = True
        try:
            await self._guarded(scope, body, send)
        finally:
            if state.get(RESERVED):          # refused before it was counted
                limiter.release(client)

    async def _guarded(self, scope: Scope, body: GuardedBody, send: Send) -> None:
        """Run the app on the guarded body; after a refusal, its answer to a client it
        thinks has left is dropped and the refusal goes out instead."""
        started = False

        async def send_unless_refused(message: Message) -> None:
            nonlocal started
            if body.refusal is not None:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, body.receive, send_unless_refused)
        except Exception:
            if body.refusal is None:
                raise                       # the route failed on the cut-off body otherwise
        if body.refusal is not None and not started:
            status, reason = body.refusal
            await refusal_response(scope, status, reason)(scope, body.receive, send)
