"""Per-client limits: jobs per minute (:class:`RateLimiter`) and what one client address may
hold open at once (:class:`PerClientCount`: connections in :mod:`app.web.server`, live
progress streams here)."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from typing import Annotated, AsyncIterator

from fastapi import Depends, HTTPException, Request
from starlette.types import Scope

from app.refusals import Refused

RESERVED = "rate_reserved"      # request.state: the body guard holds a place for this job
UPLOADING_WAIT_S = 5            # Retry-After when only jobs still uploading fill the limit
STREAMS_BUSY = ("too many live progress streams from your address (the limit is {cap}); "
                "close some pages, or try again later")


def client_address(scope: Scope) -> str:
    """The client's address (the proxy's word for it only from a trusted proxy)."""
    client = scope.get("client")
    return client[0] if client else "unknown"


class RateLimiter:
    """At most ``per_minute`` jobs per client address in any 60 s window (in memory).

    A job counts once, when its form has been read (:func:`check_rate`), whether it is then
    refused or not. Before a create request's body is read, the body guard
    (:mod:`app.web.middleware.body_guard`) takes a *reservation* (:meth:`reserve`): a client whose
    counted jobs plus those it is sending right now reach the limit is refused there, with
    nothing read. A reservation is not a count; :func:`check_rate` turns it into one, and a
    request refused before that (a bad form, a body too large or too slow) counts nothing.

    The table is bounded: it forgets the least recently seen addresses beyond
    ``max_clients`` (a flood of made-up addresses cannot grow it without limit), and an
    address whose last job is over a minute old takes no room at all."""

    def __init__(self, per_minute: int, max_clients: int = 10_000, what: str = "jobs") -> None:
        self.per_minute = per_minute
        self.max_clients = max_clients
        self.what = what                     # what is counted, in the refusal's words
        self._times: OrderedDict[str, deque[float]] = OrderedDict()
        self._pending: dict[str, int] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._times)

    def reserve(self, client: str) -> None:
        """Hold a place for a job ``client`` is about to send, or raise a 429
        :class:`Refused`; :meth:`release` it when the request ends."""
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        with self._lock:
            times = self._recent(client, now)
            pending = self._pending.get(client, 0)
            if len(times) + pending >= self.per_minute:
                raise self._refusal(times, pending, now)
            self._pending[client] = pending + 1
            self._forget_old(now)

    def release(self, client: str) -> None:
        """Give back a reservation that was not counted."""
        with self._lock:
            self._release_locked(client)

    def check(self, client: str, reserved: bool = False) -> None:
        """Count one job for ``client`` or raise a 429 :class:`Refused`; ``reserved``:
        the request holds a reservation, which becomes the count."""
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        with self._lock:
            if reserved:
                self._release_locked(client)
            times = self._recent(client, now)
            if len(times) >= self.per_minute:
                raise self._refusal(times, 0, now)
            times.append(now)
            self._forget_old(now)

    def _recent(self, client: str, now: float) -> deque[float]:
        """``client``'s job times of the last minute, the client now most recently seen."""
        times = self._times.pop(client, None) or deque()
        while times and now - times[0] > 60:
            times.popleft()
        self._times[client] = times
        return times

    def _release_locked(self, client: str) -> None:
        left = self._pending.get(client, 0) - 1
        if left > 0:
            self._pending[client] = left
        else:
            self._pending.pop(client, None)

    def _refusal(self, times: deque[float], pending: int, now: float) -> Refused:
        # the place frees when enough counted jobs age out (or, failing that, an upload ends)
        oldest_needed = len(times) + pending - self.per_minute
        wait = max(1, math.ceil(60 - (now - times[oldest_needed]))) \
            if oldest_needed < len(times) else UPLOADING_WAIT_S
        return Refused(f"too many {self.what}: the limit is {self.per_minute} a minute; "
                       f"try again in {wait} s", status_code=429,
                       headers={"Retry-After": str(wait)})

    def _forget_old(self, now: float) -> None:
        while len(self._times) > self.max_clients:
            self._times.popitem(last=False)
        for client in list(self._times)[:64]:      # oldest first: expire a few each call
            if self._times[client] and now - self._times[client][-1] <= 60:
                break
            del self._times[client]


def check_rate(request: Request) -> None:
    """Count one job for this request's client address (the app's rate limit)."""
    reserved = bool(getattr(request.state, RESERVED, False))
    setattr(request.state, RESERVED, False)           # counted now: nothing to give back
    request.app.state.rate_limiter.check(client_address(request.scope), reserved)


class PerClientCount:
    """How many of something each client address holds open, at most ``cap`` each (0: no
    limit). Only addresses holding something take room."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def count(self, client: str) -> int:
        return self._open.get(client, 0)

    def acquire(self, client: str) -> bool:
        """Take one for ``client``; False (nothing taken) when it already holds ``cap``."""
        with self._lock:
            held = self._open.get(client, 0)
            if self.cap and held >= self.cap:
                return False
            self._open[client] = held + 1
            return True

    def release(self, client: str) -> None:
        with self._lock:
            left = self._open.get(client, 0) - 1
            if left > 0:
                self._open[client] = left
            else:
                self._open.pop(client, None)


async def event_stream_slot(request: Request) -> AsyncIterator[None]:
    """Hold one of the client's live-progress stream places while its stream is open; 429
    beyond ``max_event_streams_per_client`` (the job page then polls instead)."""
    streams: PerClientCount = request.app.state.event_streams
    client = client_address(request.scope)
    if not streams.acquire(client):
        raise HTTPException(429, STREAMS_BUSY.format(cap=streams.cap),
                            headers={"Retry-After": "30"})
    try:
        yield
    finally:
        streams.release(client)


StreamSlotDep = Annotated[None, Depends(event_stream_slot)]
