"""Render slots shared fairly among people (owners), for the instant strength preview.

The server renders at most ``slots`` previews at once, and each person at most one: a
person's request while their own render runs waits for it rather than taking a second slot.
People waiting get freed slots in the order they came; a person's newer request takes the
place of their older waiting one (the older is answered "replaced", the slider's value is
stale anyway). A request that waits longer than ``wait_s``, or finds ``max_waiting`` people
already waiting, is refused as busy. So one person dragging the slider never holds more
than one slot, and everyone else gets the others.

Callers are route threads (the renders block on a child process), so waiting is a
:class:`threading.Condition`; at most ``slots + max_waiting`` threads are ever held.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from typing import Iterator


class RenderRefused(Exception):
    """No slot for this request: ``replaced`` by the same person's newer one, or busy."""

    def __init__(self, replaced: bool) -> None:
        super().__init__("a newer preview was asked for" if replaced else "busy")
        self.replaced = replaced


class FairRenderSlots:
    """See the module docstring."""

    def __init__(self, slots: int = 2, max_waiting: int = 16, wait_s: float = 5.0) -> None:
        self.slots, self.max_waiting, self.wait_s = slots, max_waiting, wait_s
        self._running: set[str] = set()
        self._waiting: OrderedDict[str, object] = OrderedDict()    # owner → their ticket
        self._changed = threading.Condition()

    @property
    def running(self) -> frozenset[str]:
        """The people whose render runs now."""
        return frozenset(self._running)

    @property
    def waiting(self) -> tuple[str, ...]:
        """The people waiting for a slot, first come first."""
        with self._changed:
            return tuple(self._waiting)

    @contextmanager
    def turn(self, owner: str) -> Iterator[None]:
        """Hold ``owner``'s one slot inside; raises :class:`RenderRefused`."""
        self._acquire(owner)
        try:
            yield
        finally:
            with self._changed:
                self._running.discard(owner)
                self._changed.notify_all()

    def _acquire(self, owner: str) -> None:
        ticket = object()
        deadline = time.monotonic() + self.wait_s
        with self._changed:
            if owner not in self._waiting and len(self._waiting) >= self.max_waiting:
                raise RenderRefused(replaced=False)
            self._waiting[owner] = ticket      # a newer request keeps the person's place
            self._changed.notify_all()         # the older one, if any, learns it is replaced
            while True:
                if self._waiting.get(owner) is not ticket:
                    raise RenderRefused(replaced=True)
                if self._next_in_line() == owner:
                    del self._waiting[owner]
                    self._running.add(owner)
                    self._changed.notify_all()     # the next in line may fit too
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    del self._waiting[owner]
                    self._changed.notify_all()
                    raise RenderRefused(replaced=False)
                self._changed.wait(left)

    def _next_in_line(self) -> str | None:
        """Who gets a free slot now: the first waiting person with no render running."""
        if len(self._running) >= self.slots:
            return None
        return next((o for o in self._waiting if o not in self._running), None)
