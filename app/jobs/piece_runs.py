"""A worker's part in a clip shared between workers (:mod:`app.jobs.pieces`): cutting a clip
it claimed into pieces when another worker could help, and making one piece.

A piece's run is a job's run in small: the engine child makes the piece into one segment
file; the worker records it under the piece's token (the last piece's worker then joins the
clip as an ordinary clip run with nothing left to stylise), or removes it when the claim was
lost. A cancel seen by any piece's worker ends the job for every piece; a crash puts the
piece back in the queue while it has attempts left.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, replace
from typing import Callable, Protocol

from sqlalchemy import Engine

from app.db.models import Job, JobState
from app.jobs import pieces
from app.jobs.cancel import CRASH_MESSAGE, INTERNAL_ERROR, JobCancelToken
from app.jobs.execute import JobSpec, OutputPaths
from app.jobs.messages import ProgressReport
from app.jobs.outputs import PreviewKeeper, discard, output_paths
from app.jobs.runner import Ending, EngineProcess, Outcome
from app.settings import Settings
from app.storage import MediaStore
from app.video.stages import Piece

log = logging.getLogger("dreamgen.worker")


class Worker(Protocol):
    """What a piece's run uses of its :class:`app.jobs.worker.Worker`."""

    db_engine: Engine
    store: MediaStore
    settings: Settings
    worker_id: str
    wake: threading.Event
    stopping: threading.Event
    lease_lost: Callable[[], bool]
    engine_process: EngineProcess

    def spec_for(self, job: Job, outputs: OutputPaths) -> JobSpec: ...

    def clear_current_job(self) -> None: ...

    def run_job(self, job: Job) -> None: ...


class PieceCancelToken(JobCancelToken):
    """Set once the piece's claim is lost, its job's owner asked to cancel, the job ended,
    or the worker stops."""

    def __init__(self, worker: Worker, claimed: pieces.ClaimedPiece) -> None:
        super().__init__(worker.db_engine, claimed.job, worker.stopping, worker.lease_lost)
        self.piece_id, self.token = claimed.piece.id, claimed.piece.claim_token or ""

    def claim_status(self) -> str:
        return pieces.piece_status(self.db_engine, self.piece_id, self.token)


def split_if_helped(worker: Worker, job: Job) -> bool:
    """Cut the clip ``job`` (claimed by ``worker``) into queued pieces when another worker is
    alive to make some of them; True when it was (or its claim was lost meanwhile), so this
    run ends here. A clip with segments from an earlier run, or too short for two pieces,
    is made by this worker alone, as before."""
    settings = worker.settings
    try:
        if job.kind != "video" or not settings.parallel_segments or job.segments or \
                pieces.has_pieces(worker.db_engine, job.id) or \
                pieces.live_workers(worker.db_engine, settings.lease_seconds) < 2:
            return False
    except Exception:  # noqa: BLE001 - the database hiccupped: make the clip alone
        log.warning("job %s: could not tell whether to share it out", job.public_id)
        return False
    outputs = output_paths(worker.store, job)
    spec = replace(worker.spec_for(job, outputs), plan_pieces=True)
    outcome = worker.engine_process.run(spec, lambda report: None, worker.stopping.is_set,
                                        None, stall_s=settings.job_stall_seconds)
    discard(worker.store, outputs, PreviewKeeper(worker.store, None))
    if outcome.kind != Ending.PLANNED or len(outcome.made) < 2:
        return False                       # a bad clip fails in the ordinary run, with words
    planned = [Piece(**p) for p in outcome.made]
    if pieces.split_job(worker.db_engine, job.id, job.claim_token or "", planned):
        log.info("job %s: cut into %d parts for every free worker", job.public_id,
                 len(planned))
        worker.wake.set()                  # this process's idle workers; others poll
    worker.clear_current_job()
    return True


def run_piece(worker: Worker, claimed: pieces.ClaimedPiece) -> None:
    """Make one claimed piece and record how it ended (only while its token holds it)."""
    piece, job = claimed.piece, claimed.job
    token = piece.claim_token or ""
    log.info("job %s: part %d started, attempt %d", job.public_id, piece.number + 1,
             piece.attempts)
    outputs = output_paths(worker.store, job)
    spec = replace(worker.spec_for(job, outputs), segments=(),
                   piece=asdict(claimed.as_piece()))

    def on_progress(report: ProgressReport) -> None:
        try:
            pieces.record_progress(worker.db_engine, piece.id, token, report.fraction)
        except Exception as exc:  # noqa: BLE001 - progress is not worth stopping for
            log.warning("job %s: part %d's progress not recorded (%s)", job.public_id,
                        piece.number + 1, exc)

    cancel = PieceCancelToken(worker, claimed)
    try:
        outcome = worker.engine_process.run(spec, on_progress, cancel.is_set, None,
                                            stall_s=worker.settings.job_stall_seconds)
    except BaseException:
        worker.engine_process.close()
        discard(worker.store, outputs, PreviewKeeper(worker.store, None))
        pieces.release_piece(worker.db_engine, piece.id, token)
        worker.clear_current_job()
        raise
    discard(worker.store, outputs, PreviewKeeper(worker.store, None))
    try:
        join = _record(worker, claimed, outcome)
    finally:
        worker.clear_current_job()
    if join is not None:
        log.info("job %s: every part is made; joining them", job.public_id)
        worker.run_job(join)


def _record(worker: Worker, claimed: pieces.ClaimedPiece, outcome: Outcome) -> Job | None:
    """Write how the piece ended; returns the job when this worker is to join it."""
    piece, job, db = claimed.piece, claimed.job, worker.db_engine
    held = (piece.id, piece.claim_token or "")
    if outcome.kind == Ending.PIECE_MADE:
        recorded, join = pieces.commit_piece(db, worker.worker_id, *held, outcome.made)
        if not recorded:
            worker.store.remove([outcome.made["path"]])
            log.warning("job %s: part %d made but no longer ours (taken over, cancelled or "
                        "deleted); dropped", job.public_id, piece.number + 1)
        return join
    if outcome.kind == Ending.CANCELLED:
        status = pieces.piece_status(db, *held)
        if status == "cancel requested":
            _end(worker, job, JobState.CANCELLED, None, held)
        elif status == "ours":             # this worker stops: the piece waits for another
            pieces.release_piece(db, *held, count_run=False)
        return None
    if outcome.kind == Ending.FAILED:
        _end(worker, job, JobState.FAILED, outcome.message, held)
    elif outcome.kind == Ending.ERROR:
        log.error("job %s part %d crashed with an internal error:\n%s", job.public_id,
                  piece.number + 1, outcome.message)
        _end(worker, job, JobState.FAILED, INTERNAL_ERROR.format(job=job.public_id), held)
    elif piece.attempts < worker.settings.max_attempts:
        pieces.release_piece(db, *held)
        log.warning("job %s: engine %s on part %d; back in the queue", job.public_id,
                    outcome.message, piece.number + 1)
    else:
        _end(worker, job, JobState.FAILED, CRASH_MESSAGE.format(
            how=outcome.message, count=piece.attempts, s="" if piece.attempts == 1 else "s"),
            held)
    return None


def _end(worker: Worker, job: Job, state: JobState, error: str | None,
         held: tuple[int, str]) -> None:
    files = pieces.end_split_job(worker.db_engine, job.id, state, error, held)
    if files is not None:
        worker.store.remove(files)
        log.info("job %s %s (by the worker of one of its parts)", job.public_id, state.value)
