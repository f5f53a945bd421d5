"""Upload checks, a few at a time.

A check decodes the files in a child process (:func:`app.uploads.storing.store_uploads`), which
for a 40-megapixel PNG takes hundreds of MB: twelve at once took the server from 1.4 to
5.2 GiB. So at most ``upload_checks`` run at once per server and the rest wait in line on the
event loop (first come, first served; no thread is held while waiting). One that waits
longer than ``upload_check_wait_seconds`` is refused with 503 and ``Retry-After``: its files
are removed and nothing was stored, so it can simply be sent again.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from contextlib import asynccontextmanager
from typing import AsyncIterator

from app.refusals import Refused

RETRY_AFTER_S = 30
BUSY = ("the server is busy checking other uploads; nothing was kept, so send it again in "
        "a minute")


class CheckQueue:
    """At most ``size`` turns at once; the others wait in line up to ``wait_s`` seconds."""

    def __init__(self, size: int, wait_s: float) -> None:
        self.size, self.wait_s = size, wait_s
        self._running = 0
        self._line: deque[asyncio.Future[None]] = deque()
        self._lock = threading.Lock()

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return len(self._line)

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait for a turn (503 :class:`Refused` after ``wait_s``), hold it inside."""
        await self._acquire()
        try:
            yield
        finally:
            self._release()

    async def _acquire(self) -> None:
        with self._lock:
            if self._running < self.size and not self._line:
                self._running += 1
                return
            handed = asyncio.get_running_loop().create_future()
            self._line.append(handed)
        try:
            await asyncio.wait_for(asyncio.shield(handed), self.wait_s)
        except BaseException as exc:          # timed out, or the client left meanwhile
            with self._lock:
                still_waiting = handed in self._line
                if still_waiting:
                    self._line.remove(handed)
            if not still_waiting:             # a turn was handed over just then: it is ours
                if isinstance(exc, TimeoutError):
                    return
                self._release()
            if isinstance(exc, TimeoutError):
                raise Refused(BUSY, 503, {"Retry-After": str(RETRY_AFTER_S)}) from None
            raise

    def _release(self) -> None:
        with self._lock:
            if not self._line:
                self._running -= 1
                return
            handed = self._line.popleft()     # the turn passes on; the count stays
        handed.get_loop().call_soon_threadsafe(_hand_over, handed)


def _hand_over(handed: asyncio.Future[None]) -> None:
    if not handed.done():
        handed.set_result(None)
