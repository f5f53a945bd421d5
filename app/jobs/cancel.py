"""The cancel token a worker hands its engine child: true once the job's owner asked to
cancel, its claim moved elsewhere, or the worker is stopping (:mod:`app.jobs.worker`); and
the words a job that ended badly shows, whether one worker ran it or several its pieces."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from sqlalchemy import Engine

from app.db.models import Job
from app.jobs import queue

log = logging.getLogger("dreamgen.worker")

CANCEL_CHECK_INTERVAL_S = 0.5
# A bug of ours, not the person's input: the traceback goes to the log, never to the page.
INTERNAL_ERROR = ("something went wrong on our side while making it; try again, or with other "
                  "settings. If it happens again, tell the studio's admin: job {job}")
CRASH_MESSAGE = ("the engine crashed on this input ({how}, {count} time{s}); try a smaller "
                 "size, another engine or another file")


def never() -> bool:
    """The lease check of a worker with no lease keeper (tests): never lost."""
    return False


class JobCancelToken:
    """True once the job's owner asked to cancel, or its claim moved elsewhere (read from
    the database at most every half second), or the worker is stopping. While the database
    cannot be read, true once this process's lease is lost (``lease_lost``): by then another
    worker may run the job. Never raises (the engine child must always be told to stop)."""

    def __init__(self, db_engine: Engine, job: Job, stopping: threading.Event,
                 lease_lost: Callable[[], bool] = never) -> None:
        self.db_engine, self.job, self.stopping = db_engine, job, stopping
        self.lease_lost = lease_lost
        self._checked_at, self._requested, self._unreadable = 0.0, False, False
        self.gave_way = False

    def give_way(self) -> None:
        """Stop the engine so the job can wait for its next turn (someone else's job is
        queued): set between a clip's segments, so nothing committed is lost."""
        self.gave_way = True

    def claim_status(self) -> str:
        """``ours``, ``cancel requested`` or ``lost`` (read from the database)."""
        return queue.claim_status(self.db_engine, self.job.id, self.job.claim_token or "")

    def is_set(self) -> bool:
        if self.stopping.is_set() or self.gave_way:
            return True
        now = time.monotonic()
        if not self._requested and now - self._checked_at >= CANCEL_CHECK_INTERVAL_S:
            self._checked_at = now
            try:
                status = self.claim_status()
                self._requested, self._unreadable = status != "ours", False
            except Exception as exc:  # noqa: BLE001 - cut off from the database
                self._requested = self.lease_lost()
                if self._requested or not self._unreadable:   # once, not twice a second
                    log.warning("job %s: cannot read its claim (%s)%s", self.job.public_id,
                                type(exc).__name__, "; no heartbeat for a lease, stopping "
                                "its engine" if self._requested else "")
                self._unreadable = True
        return self._requested
