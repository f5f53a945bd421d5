"""Brute force against sign-in: wrong passwords are counted per account name and per client
address over the last minute. Once a name has had :data:`WRONG_PER_NAME` wrong passwords in
a minute, the next attempt at it (the tenth) is refused with 429 *without checking the
password*, the right one included, until the oldest ages out; an address gets
:data:`WRONG_PER_ADDRESS` (a class or a club behind one router shares it). Names that do not
exist are counted the same way, so the limit tells nothing about which names do.

In memory, per process (like the job rate limit): a restart forgets, and each web process
counts its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque

from app.refusals import Refused

WRONG_PER_NAME = 9
WRONG_PER_ADDRESS = 30
WINDOW_S = 60.0


class FailureWindow:
    """Failures per key over the last :data:`WINDOW_S` seconds, at most ``limit`` before
    the key is refused; bounded to ``max_keys`` keys (the least recently failed go)."""

    def __init__(self, limit: int, max_keys: int = 10_000) -> None:
        self.limit, self.max_keys = limit, max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait_s(self, key: str) -> int | None:
        """Seconds until ``key`` may try again (None: it may now)."""
        now = time.monotonic()
        with self._lock:
            times = self._failures.get(key)
            while times and now - times[0] > WINDOW_S:
                times.popleft()
            if not times or len(times) < self.limit:
                return None
            return max(1, math.ceil(WINDOW_S - (now - times[-self.limit])))

    def fail(self, key: str) -> None:
        with self._lock:
            times = self._failures.pop(key, None) or deque(maxlen=self.limit)
            times.append(time.monotonic())
            self._failures[key] = times
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def clear(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


class SignInGuard:
    """The two windows a sign-in passes: its name's and its address's."""

    def __init__(self) -> None:
        self.names = FailureWindow(WRONG_PER_NAME)
        self.addresses = FailureWindow(WRONG_PER_ADDRESS)

    def check(self, name_key: str, address: str) -> None:
        """Refuse (429, with Retry-After) before any password is checked when either the
        name or the address has had its wrong passwords for this minute."""
        waits = [w for w in (self.names.wait_s(name_key), self.addresses.wait_s(address))
                 if w is not None]
        if waits:
            wait = max(waits)
            raise Refused(f"too many wrong passwords; try again in {wait} s", 429,
                          headers={"Retry-After": str(wait)})

    def failed(self, name_key: str, address: str) -> None:
        self.names.fail(name_key)
        self.addresses.fail(address)

    def succeeded(self, name_key: str) -> None:
        self.names.clear(name_key)
