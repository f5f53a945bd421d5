"""The engine child process a worker thread supervises.

Each worker thread owns one :class:`EngineProcess`: a child forked from the fork server
(:mod:`app.isolation`) that keeps the engines warm between jobs and runs one job at a time
(:func:`app.jobs.execute.serve_jobs`). The thread sends a :class:`~app.jobs.execute.JobSpec`,
relays progress, sets the child's cancel event when the job is cancelled or the worker stops,
and learns how the job ended as an :class:`Outcome`. If the child dies — a segfault in a
decoder, an abort, the kernel's out-of-memory killer — the outcome is ``crashed`` and the next
job gets a fresh child; the web server and the worker thread carry on.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Callable

from app.isolation import context, describe_exit
from app.jobs.execute import JobSpec, serve_jobs
from app.jobs.messages import (
    Answer,
    JobCancelled,
    JobDone,
    JobErrored,
    JobFailed,
    JobResult,
    News,
    PieceMade,
    PiecesPlanned,
    ProgressReport,
)

log = logging.getLogger("dreamgen.worker")

POLL_S = 0.2                 # how often the thread looks at the pipe, the child and cancel
CANCEL_GRACE_S = 5.0         # a cancelled child that has not stopped by then is killed
CLOSE_GRACE_S = 3.0


class Ending(StrEnum):
    """How a job ended in its child."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"          # the message is for the person who asked
    CANCELLED = "cancelled"
    ERROR = "error"            # something unforeseen: the message has the traceback
    CRASHED = "crashed"        # the child died or hung: the message says how
    PLANNED = "planned"        # a clip's pieces (``made``: their list)
    PIECE_MADE = "piece made"  # one piece of a clip (``made``: its segment)


@dataclass(frozen=True)
class Outcome:
    """How a job ended, with the message that goes with it, or its result."""

    kind: Ending
    message: str = ""
    result: JobResult | None = None
    made: Any = None


def outcome_of(answer: Answer) -> Outcome:
    """The :class:`Outcome` a child's answer means."""
    if isinstance(answer, PiecesPlanned):
        return Outcome(Ending.PLANNED, made=answer.pieces)
    if isinstance(answer, PieceMade):
        return Outcome(Ending.PIECE_MADE, made=answer.segment)
    if isinstance(answer, JobDone):
        return Outcome(Ending.SUCCEEDED, result=answer.result)
    if isinstance(answer, JobFailed):
        return Outcome(Ending.FAILED, answer.message)
    if isinstance(answer, JobErrored):
        return Outcome(Ending.ERROR, answer.description)
    return Outcome(Ending.CANCELLED)


class EngineProcess:
    """One child process that runs jobs; started on first use, replaced after a crash."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._process: Any = None
        self._conn: Any = None
        self._cancel: Any = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _ensure_started(self) -> None:
        if self._process is not None and self._process.is_alive():
            return
        self._discard()
        ctx = context()
        parent, child = ctx.Pipe()
        self._cancel = ctx.Event()
        self._process = ctx.Process(target=serve_jobs, args=(child, self._cancel), daemon=True,
                                    name=f"dreamgen-engine-{self.name}")
        self._process.start()
        child.close()
        self._conn = parent
        log.info("engine process %s started (pid %s)", self.name, self._process.pid)

    def run(self, spec: JobSpec, on_progress: Callable[[ProgressReport], None],
            should_stop: Callable[[], bool],
            on_news: Callable[[News], None] | None = None,
            stall_s: float = 0.0) -> Outcome:
        """Run ``spec`` in the child. ``on_progress`` gets each progress report and
        ``on_news`` any other news (a clip's committed segments, its partial result);
        ``should_stop`` is polled and, once true, the child is asked to cancel (and killed
        if it has not stopped within :data:`CANCEL_GRACE_S`). A child that sends nothing
        for ``stall_s`` seconds (0: no limit) is hung — a deadlock in native code, a
        driver that never returns —, is killed, and the outcome is ``crashed``."""
        self._ensure_started()
        self._cancel.clear()
        try:
            self._conn.send(spec)
        except (BrokenPipeError, OSError):
            return self._crashed()
        cancelled_at: float | None = None
        heard_at = time.monotonic()
        while True:
            if cancelled_at is None and should_stop():
                cancelled_at = time.monotonic()
                self._cancel.set()
            if cancelled_at is not None and time.monotonic() - cancelled_at > CANCEL_GRACE_S:
                log.warning("engine process %s did not stop within %.0f s; killing it",
                            self.name, CANCEL_GRACE_S)
                self._kill()
                return Outcome(Ending.CANCELLED)
            try:
                ready = self._conn.poll(POLL_S)
                message = self._conn.recv() if ready else None
            except (EOFError, OSError):
                return self._crashed()
            if message is None:
                if not self._process.is_alive():
                    return self._crashed()
                if stall_s and time.monotonic() - heard_at > stall_s:
                    return self._hung(stall_s)
                continue
            heard_at = time.monotonic()
            if isinstance(message, ProgressReport):
                on_progress(message)
            elif isinstance(message, (JobDone, JobFailed, JobCancelled, JobErrored,
                                      PiecesPlanned, PieceMade)):
                return outcome_of(message)
            elif on_news is not None:
                on_news(message)

    def _crashed(self) -> Outcome:
        process = self._process
        process.join(5)
        how = describe_exit(process.exitcode)
        log.error("engine process %s (pid %s) %s", self.name, process.pid, how)
        self._discard()
        return Outcome(Ending.CRASHED, message=how)

    def _hung(self, stall_s: float) -> Outcome:
        how = f"stopped answering for {stall_s:.0f} s"
        log.error("engine process %s (pid %s) %s; killing it", self.name, self.pid, how)
        self._kill()
        return Outcome(Ending.CRASHED, message=how)

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(5)
        self._discard()

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = self._cancel = None

    def close(self) -> None:
        """Ask the child to exit; kill it if it does not within a few seconds."""
        if self._process is None:
            return
        try:
            self._conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self._process.join(CLOSE_GRACE_S)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)
        self._discard()
