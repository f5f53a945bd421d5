"""One way to wait for something: poll with a deadline, never sleep a fixed time."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


class WaitedTooLong(AssertionError):
    """What was waited for did not happen before the deadline."""


def wait_until(what: str, probe: Callable[[], T], timeout_s: float = 240.0,
               every_s: float = 0.05) -> T:
    """Call ``probe`` every ``every_s`` seconds until it returns something true, and return
    that; fail naming ``what`` (and the last value seen) after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise WaitedTooLong(f"{what}: not seen within {timeout_s:g} s (last: {last!r})")
        time.sleep(every_s)
