"""The worker: threads that take queued jobs from the database and have them run.

Each :class:`Worker` claims the next job (or piece of a clip, :mod:`app.jobs.pieces`) atomically (so several threads or processes
can share one database) and hands it to its :class:`~app.jobs.runner.EngineProcess`, a child
process that keeps the engines warm; the thread records progress, the result or the error in
the job row. A crash of the engine child (a segfault in a decoder, an out-of-memory kill)
puts the job back in the queue, or fails it with "the engine crashed on this input" once it
has crashed on every attempt; the thread and the server carry on. Any unexpected error in the
thread itself is logged with its traceback and the loop goes on after a back-off; a thread
that dies anyway is restarted by :meth:`WorkerPool.supervise`.

On shutdown a running job is put back in the queue; a kill leaves it ``running`` and the next
start on this machine re-queues it (:func:`~app.jobs.recovery.recover_abandoned_jobs`), or any
live worker does once the dead one's lease has run out (:mod:`app.jobs.leases`). A worker that
lost its claim (taken over while it was paused or cut off) stops its engine, writes nothing
more for the job and removes what it had written.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Callable

from sqlalchemy import Engine

from app.db.models import FINISHED_STATES, Job
from app.engine.weights.store import WeightStore
from app.jobs import leases, pieces, queue
from app.jobs.cancel import (  # noqa: F401 (JobCancelToken, never: re-exported)
    CRASH_MESSAGE,
    INTERNAL_ERROR,
    JobCancelToken,
    never,
)
from app.jobs.execute import JobSpec, OutputPaths
from app.jobs.messages import (
    CheckpointCommitted,
    News,
    PartialWritten,
    ProgressReport,
    SegmentCommitted,
)
from app.jobs.outputs import (
    CheckpointFiles,
    ClipFiles,
    PreviewKeeper,
    discard,
    output_paths,
)
from app.jobs.piece_runs import run_piece, split_if_helped
from app.jobs.recovery import host_prefix, recover_abandoned_jobs  # noqa: F401 (re-exported)
from app.jobs.runner import Ending, EngineProcess, Outcome
from app.jobs.sweep import MediaFolderLock
from app.jobs.train_inputs import training_inputs
from app.people.fast_models import finish_training
from app.settings import Settings
from app.storage import MediaStore
from app.video.probe import VideoLimits

log = logging.getLogger("dreamgen.worker")

IDLE_POLL_S = 1.0               # how often an idle worker looks for jobs added elsewhere
MAX_BACKOFF_S = 30.0
LOST_TOUCH = "waiting in the queue (its worker lost touch with the database)"
GAVE_WAY = ("waiting for its next turn: other people's jobs run between its parts, and what "
            "it made so far is kept")


class Worker(threading.Thread):
    """One thread running jobs one after another until :meth:`stop`."""

    def __init__(self, db_engine: Engine, store: MediaStore, settings: Settings,
                 worker_id: str, wake: threading.Event, device: str | None = None,
                 weights: WeightStore | None = None,
                 lease_lost: Callable[[], bool] = never) -> None:
        super().__init__(name=f"dreamgen-{worker_id}", daemon=True)
        self.db_engine, self.store, self.settings = db_engine, store, settings
        self.worker_id, self.wake, self.device = worker_id, wake, device
        self.lease_lost = lease_lost
        self.weights = weights or WeightStore.from_settings(settings)
        self.stopping = threading.Event()
        self.engine_process = EngineProcess(worker_id)

    def run(self) -> None:
        log.info("worker %s started", self.worker_id)
        backoff = 1.0
        try:
            while not self.stopping.is_set():
                try:
                    work = pieces.claim_next_work(self.db_engine, self.worker_id)
                    if work is None:
                        self.wake.wait(IDLE_POLL_S)
                        self.wake.clear()
                    elif isinstance(work, pieces.ClaimedPiece):
                        run_piece(self, work)
                    else:
                        self.run_job(work)
                    backoff = 1.0
                except Exception:  # noqa: BLE001 - the loop must survive anything
                    log.exception("worker %s: unexpected error; going on in %.0f s",
                                  self.worker_id, backoff)
                    self.stopping.wait(backoff)
                    backoff = min(MAX_BACKOFF_S, backoff * 2)
        finally:
            self.engine_process.close()
            log.info("worker %s stopped", self.worker_id)

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    def spec_for(self, job: Job, outputs: OutputPaths) -> JobSpec:
        """What the engine child needs to run ``job``."""
        return JobSpec(
            job_id=job.id, public_id=job.public_id, kind=job.kind, options=dict(job.options),
            content_path=job.content_path, style_paths=tuple(job.style_paths),
            outputs=outputs, media_root=str(self.store.root),
            device=self.device or self.settings.device, weights=self.weights,
            max_megapixels=self.settings.max_image_megapixels,
            video_limits=VideoLimits.from_settings(self.settings),
            segments=tuple(job.segments or ()),
            segment_seconds=self.settings.video_segment_seconds, mask_path=job.mask_path,
            derivation=job.derivation, start_path=job.start_path,
            model_path=job.model_path, max_model_mb=self.settings.max_model_mb,
            training=training_inputs(self.db_engine, self.store, self.settings, job)
            if job.kind == "train" else None)

    def run_job(self, job: Job) -> None:
        """Run one claimed job to an end state (or back to the queue)."""
        token = job.claim_token or ""
        log.info("job %s (%s, %s) started, attempt %d", job.public_id, job.kind, job.engine,
                 job.attempts)
        if split_if_helped(self, job):
            return                               # its pieces are in the queue now
        outputs = output_paths(self.store, job)
        cancel = JobCancelToken(self.db_engine, job, self.stopping, self.lease_lost)
        previews = PreviewKeeper(self.store, job.preview_path)
        clip = ClipFiles(self.store, job)
        checkpoints = CheckpointFiles(self.store, job)
        started = time.monotonic()

        def on_progress(report: ProgressReport) -> None:
            preview = outputs.preview if report.preview_written else None
            try:
                recorded = queue.update_progress(self.db_engine, job.id, token, report.fraction,
                                                 report.message, preview, report.eta_s)
            except Exception as exc:  # noqa: BLE001 - progress is not worth stopping for
                log.warning("job %s: progress not recorded (%s)", job.public_id, exc)
                return
            if recorded and preview:
                previews.recorded()

        def on_news(news: News) -> None:
            """A clip's committed segment or new partial result: recorded under the token
            (a worker that lost the job keeps nothing)."""
            try:
                if isinstance(news, SegmentCommitted):
                    clip.segment(news.segment["path"], queue.record_segment(
                        self.db_engine, job.id, token, news.segment))
                    if queue.others_waiting(self.db_engine, job.owner_id, job.priority):
                        cancel.give_way()         # a segment boundary: the fair place to yield
                elif isinstance(news, PartialWritten):
                    clip.partial_result(news.path, queue.set_partial(
                        self.db_engine, job.id, token, news.path))
                elif isinstance(news, CheckpointCommitted):
                    checkpoints.committed(news.path, queue.record_checkpoint(
                        self.db_engine, job.id, token, news.path))
            except Exception as exc:  # noqa: BLE001 - made again by the next run if need be
                log.warning("job %s: %s not recorded (%s)", job.public_id,
                            type(news).__name__, exc)

        try:
            outcome = self.engine_process.run(self.spec_for(job, outputs), on_progress,
                                              cancel.is_set, on_news,
                                              stall_s=self.settings.job_stall_seconds)
        except BaseException:
            self.engine_process.close()   # a child still busy with this job must not answer
            self._discard(outputs, previews)   # the next one's messages with its own
            self._put_back(job, token, "waiting in the queue (the worker hit an error)")
            self.clear_current_job()
            raise
        try:
            succeeded = self._record(job, token, outcome, outputs, previews, cancel.gave_way)
            if queue.job_state(self.db_engine, job.id) in (*FINISHED_STATES, None):
                clip.remove_all()              # a job that ended keeps no segments
                checkpoints.remove_all()       # nor a checkpoint
        finally:
            # also when the database refused the last write: a job this worker's row no
            # longer names is taken back after a lease (leases.expired_claims)
            self.clear_current_job()
        if succeeded:
            log.info("job %s succeeded in %.1f s", job.public_id, time.monotonic() - started)

    def _record(self, job: Job, token: str, outcome: Outcome, outputs: OutputPaths,
                previews: PreviewKeeper, gave_way: bool = False) -> bool:
        """Write how the job ended (only while ``token`` holds it); True when its result
        was recorded."""
        if outcome.kind == Ending.SUCCEEDED and outcome.result is not None:
            return self._record_result(job, token, outcome, outputs, previews)
        self._discard(outputs, previews)
        if outcome.kind == Ending.CANCELLED and gave_way and \
                queue.claim_status(self.db_engine, job.id, token) == "ours":
            self._put_back(job, token, GAVE_WAY, yielded=True)
            log.info("job %s gave way between segments: someone else's job is waiting",
                     job.public_id)
        elif outcome.kind == Ending.CANCELLED:
            self._record_cancelled(job, token)
        elif outcome.kind == Ending.FAILED:
            queue.fail_job(self.db_engine, job.id, token, outcome.message)
            log.info("job %s failed: %s", job.public_id, outcome.message)
        elif outcome.kind == Ending.ERROR:
            log.error("job %s crashed with an internal error:\n%s", job.public_id,
                      outcome.message)
            queue.fail_job(self.db_engine, job.id, token,
                           INTERNAL_ERROR.format(job=job.public_id))
        else:
            self._engine_crashed(job, token, outcome.message)
        return False

    def _record_result(self, job: Job, token: str, outcome: Outcome, outputs: OutputPaths,
                       previews: PreviewKeeper) -> bool:
        """Write the result once, under the token; a refused write keeps nothing of ours."""
        result = outcome.result
        assert result is not None
        try:
            if job.kind == "train":       # the job and its model's row, together
                written = finish_training(self.db_engine, self.store, job, token, result)
            else:
                written = queue.finish_job(self.db_engine, job.id, token,
                                           result_path=result.result_path,
                                           thumb_path=result.thumb_path, width=result.width,
                                           height=result.height,
                                           preview_path=result.preview_path,
                                           strength_path=result.strength_path)
        except BaseException:
            self._discard(outputs, previews)   # not recorded: nobody would ever name them
            raise
        if not written:
            self._discard(outputs, previews)   # deleted or taken over meanwhile
            log.warning("job %s finished but is no longer ours (taken over by another worker "
                        "or deleted); result dropped", job.public_id)
            return False
        if result.preview_path:
            previews.replaced_by(result.preview_path, outputs.preview)
        return True

    def _record_cancelled(self, job: Job, token: str) -> None:
        """The engine stopped before the end: say why in the job row, if it is still ours."""
        status = queue.claim_status(self.db_engine, job.id, token)
        if status == "lost":
            log.warning("job %s is no longer ours (taken over by another worker or deleted); "
                        "engine stopped, result dropped", job.public_id)
        elif status == "cancel requested":
            queue.cancel_running_job(self.db_engine, job.id, token)
            log.info("job %s cancelled", job.public_id)
        elif self.stopping.is_set():
            self._put_back(job, token, "waiting in the queue (resumed after restart)")
            log.info("job %s put back in the queue (worker stopping)", job.public_id)
        else:                              # lease lost locally, yet the claim is still ours
            self._put_back(job, token, LOST_TOUCH)
            log.warning("job %s put back in the queue: this worker lost touch with the "
                        "database for a whole lease", job.public_id)

    def clear_current_job(self) -> None:
        try:
            leases.set_current_job(self.db_engine, self.worker_id, None)
        except Exception:  # noqa: BLE001 - display only; the next claim overwrites it
            log.debug("could not clear the current job of %s", self.worker_id, exc_info=True)

    def _engine_crashed(self, job: Job, token: str, how: str) -> None:
        """The child died running ``job``: retry while attempts remain, else fail it."""
        if job.attempts < self.settings.max_attempts:
            self._put_back(job, token, f"waiting in the queue (the engine crashed on attempt "
                                       f"{job.attempts}; trying again)")
            log.warning("job %s: engine %s; re-queued (attempt %d of %d)", job.public_id, how,
                        job.attempts, self.settings.max_attempts)
            return
        message = CRASH_MESSAGE.format(how=how, count=job.attempts,
                                       s="" if job.attempts == 1 else "s")
        queue.fail_job(self.db_engine, job.id, token, message)
        log.warning("job %s failed: %s", job.public_id, message)

    def _put_back(self, job: Job, token: str, message: str, yielded: bool = False) -> None:
        try:
            queue.release_job(self.db_engine, job.id, token, message, yielded=yielded)
        except Exception:  # noqa: BLE001 - the database may be what failed
            log.exception("job %s could not be put back in the queue", job.public_id)

    def _discard(self, outputs: OutputPaths, previews: PreviewKeeper) -> None:
        """Remove what the child may have written for this run (see :func:`discard`)."""
        discard(self.store, outputs, previews)


def worker_devices(settings: Settings) -> list[str | None]:
    """One device per worker: ``settings.workers`` threads, 0 meaning one per CUDA GPU
    (else one on the CPU)."""
    count = settings.workers
    gpus = 0
    if settings.device == "auto":
        import torch

        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count <= 0:
        count = max(1, gpus)
    return [f"cuda:{i % gpus}" if gpus else None for i in range(count)]


def device_label(settings: Settings, device: str | None) -> str:
    """What the workers table shows as a worker's device."""
    if device:
        return device
    return "cpu" if settings.device == "auto" else settings.device


class WorkerPool:
    """The worker threads of one process, with a supervisor that restarts dead ones and a
    :class:`~app.jobs.leases.LeaseKeeper` that heartbeats them and takes over the jobs of
    workers elsewhere that stopped heartbeating."""

    SUPERVISE_EVERY_S = 2.0

    def __init__(self, db_engine: Engine, store: MediaStore, settings: Settings,
                 weights: WeightStore | None = None) -> None:
        self.db_engine, self.store, self.settings = db_engine, store, settings
        self.weights = weights or WeightStore.from_settings(settings)
        self._wake = threading.Event()
        self.workers: list[Worker] = []
        self._folder_lock = MediaFolderLock(store.root)
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self.leases: leases.LeaseKeeper | None = None
        self.restarts = 0

    def start(self) -> None:
        """Register the workers' rows (before any claims a job), start the lease keeper
        and the worker threads."""
        self._folder_lock.acquire_shared()    # no other process sweeps while we write
        prefix = f"{host_prefix()}{os.getpid()}"
        devices = worker_devices(self.settings)
        identities = [leases.WorkerIdentity(f"{prefix}-w{i}", socket.gethostname(),
                                            os.getpid(), device_label(self.settings, device))
                      for i, device in enumerate(devices)]
        leases.register_workers(self.db_engine, identities)
        self.leases = leases.LeaseKeeper(self.db_engine, identities,
                                         self.settings.lease_seconds, self.settings.max_attempts)
        self.leases.start()
        self.workers = [self._new_worker(identity.id, device)
                        for identity, device in zip(identities, devices)]
        self._supervisor = threading.Thread(target=self._supervise_loop, daemon=True,
                                            name="dreamgen-supervisor")
        self._supervisor.start()

    def _new_worker(self, worker_id: str, device: str | None) -> Worker:
        worker = Worker(self.db_engine, self.store, self.settings, worker_id, self._wake,
                        device, self.weights, self._lease_lost)
        worker.start()
        return worker

    def _lease_lost(self) -> bool:
        return self.leases is not None and self.leases.lease_lost()

    def _supervise_loop(self) -> None:
        while not self._stopping.wait(self.SUPERVISE_EVERY_S):
            self.supervise()

    def supervise(self) -> int:
        """Restart worker threads that died (their loop guards every error, so this is the
        last line of defence); returns how many were restarted."""
        restarted = 0
        for index, worker in enumerate(self.workers):
            if self._stopping.is_set() or worker.is_alive() or worker.stopping.is_set():
                continue
            log.error("worker %s died; starting it again", worker.worker_id)
            self.workers[index] = self._new_worker(worker.worker_id, worker.device)
            restarted += 1
        self.restarts += restarted
        return restarted

    def alive(self) -> tuple[int, int]:
        """(live worker threads, expected worker threads)."""
        return sum(w.is_alive() for w in self.workers), len(self.workers)

    def wake(self) -> None:
        """Tell idle workers a job was just queued (they also poll every second)."""
        self._wake.set()

    def stop(self, timeout_s: float = 8.0) -> None:
        """Stop every worker: a running job is cancelled and put back in the queue; engine
        children that do not stop in time are killed. Then the heartbeats stop and the
        workers' rows are deleted (one still running a job keeps its row: its lease runs
        out and another worker takes the job)."""
        self._stopping.set()
        for worker in self.workers:
            worker.stop()
        deadline = time.monotonic() + timeout_s
        for worker in self.workers:
            worker.join(max(0.1, deadline - time.monotonic()))
            if worker.is_alive():
                log.warning("worker %s did not stop within %.0f s", worker.worker_id, timeout_s)
        if self.leases is not None:
            self.leases.stop()
            stopped = [w.worker_id for w in self.workers if not w.is_alive()]
            try:
                if stopped:
                    leases.unregister_workers(self.db_engine, stopped)
            except Exception:  # noqa: BLE001 - the rows go stale and are forgotten later
                log.exception("could not delete the rows of the stopped workers")
        self._folder_lock.release()
