"""The worker: threads that take queued jobs from the database and have them run.

Each :class:`Worker` claims the oldest queued job atomically (so several threads or processes
can share one database) and hands it to its :class:`~app.jobs.runner.EngineProcess`, a child
process that keeps the engines warm; the thread records progress, the result or the error in
the job row. A crash of the engine child (a segfault in a decoder, an out-of-memory kill)
puts the job back in the queue, or fails it with "the engine crashed on this input" once it
has crashed on every attempt; the thread and the server carry on. Any unexpected error in the
thread itself is logged with its traceback and the loop goes on after a back-off; a thread
that dies anyway is restarted by :meth:`WorkerPool.supervise`.

On shutdown a running job is put back in the queue; a kill leaves it ``running`` and the next
start re-queues it (:func:`recover_abandoned_jobs`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from sqlalchemy import Engine

from app.engine.weights import WeightStore
from app.jobs import queue
from app.jobs.execute import JobSpec, OutputPaths, ProgressMessage
from app.jobs.models import Job
from app.jobs.runner import EngineProcess, Outcome
from app.jobs.sweep import MediaFolderLock
from app.settings import Settings
from app.storage import MediaStore
from app.video.probe import VideoLimits

log = logging.getLogger("dreamgen.worker")

CANCEL_CHECK_INTERVAL_S = 0.5
IDLE_POLL_S = 1.0               # how often an idle worker looks for jobs added elsewhere
MAX_BACKOFF_S = 30.0
CRASH_MESSAGE = ("the engine crashed on this input ({how}, {count} time{s}); try a smaller "
                 "size, another engine or another file")


class JobCancelToken:
    """True once the job's owner asked to cancel, or its claim moved elsewhere (read from
    the database at most every half second), or the worker is stopping."""

    def __init__(self, db_engine: Engine, job: Job, stopping: threading.Event) -> None:
        self.db_engine, self.job, self.stopping = db_engine, job, stopping
        self._checked_at, self._requested = 0.0, False

    def is_set(self) -> bool:
        if self.stopping.is_set():
            return True
        now = time.monotonic()
        if not self._requested and now - self._checked_at >= CANCEL_CHECK_INTERVAL_S:
            self._checked_at = now
            self._requested = queue.is_cancel_requested(self.db_engine, self.job.id,
                                                        self.job.claim_token)
        return self._requested


def output_paths(store: MediaStore, job: Job) -> OutputPaths:
    """Fresh paths for a job's result, thumbnail and (reused) preview; a clip also gets a
    poster."""
    suffix = ".mp4" if job.kind == "video" else ".png"
    return OutputPaths(result=store.new_result_path(suffix),
                       thumb=store.new_path("thumbs", ".jpg"),
                       preview=job.preview_path or store.new_path("previews", ".jpg"),
                       poster=store.new_path("thumbs", ".jpg") if job.kind == "video" else None)


def fault_for_tests(job: Job) -> str:
    """TEST ONLY: ``DREAMGEN_TEST_ENGINE_FAULT=<kind>@<px>`` (kind ``segfault``, ``abort`` or
    ``raise``) makes the engine process of any job asking for that output size die of a real
    SIGSEGV, abort, or raise an unexpected exception, for the crash-isolation tests. Never
    set it in production."""
    kind, _, size = os.environ.get("DREAMGEN_TEST_ENGINE_FAULT", "").partition("@")
    if kind in ("segfault", "abort", "raise") and size.isdigit() \
            and job.options.get("size") == int(size):
        return kind
    return ""


class Worker(threading.Thread):
    """One thread running jobs one after another until :meth:`stop`."""

    def __init__(self, db_engine: Engine, store: MediaStore, settings: Settings,
                 worker_id: str, wake: threading.Event, device: str | None = None,
                 weights: WeightStore | None = None) -> None:
        super().__init__(name=f"dreamgen-{worker_id}", daemon=True)
        self.db_engine, self.store, self.settings = db_engine, store, settings
        self.worker_id, self.wake, self.device = worker_id, wake, device
        self.weights = weights or WeightStore.from_settings(settings)
        self.stopping = threading.Event()
        self.engine_process = EngineProcess(worker_id)

    def run(self) -> None:
        log.info("worker %s started", self.worker_id)
        backoff = 1.0
        try:
            while not self.stopping.is_set():
                try:
                    job = queue.claim_next_job(self.db_engine, self.worker_id)
                    if job is None:
                        self.wake.wait(IDLE_POLL_S)
                        self.wake.clear()
                    else:
                        self.run_job(job)
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
            pause_before_rename_s=float(os.environ.get("DREAMGEN_TEST_PAUSE_BEFORE_RENAME") or 0),
            fault_for_tests=fault_for_tests(job))

    def run_job(self, job: Job) -> None:
        """Run one claimed job to an end state (or back to the queue)."""
        token = job.claim_token or ""
        log.info("job %s (%s, %s) started, attempt %d", job.public_id, job.kind, job.engine,
                 job.attempts)
        outputs = output_paths(self.store, job)
        cancel = JobCancelToken(self.db_engine, job, self.stopping)
        started = time.monotonic()

        def on_progress(message: ProgressMessage) -> None:
            fraction, text, wrote_preview = message
            queue.update_progress(self.db_engine, job.id, token, fraction, text,
                                  outputs.preview if wrote_preview else None)

        try:
            outcome = self.engine_process.run(self.spec_for(job, outputs), on_progress,
                                              cancel.is_set)
        except BaseException:
            self._discard(outputs, job)
            self._put_back(job, token, "waiting in the queue (the worker hit an error)")
            raise
        self._record(job, token, outcome, outputs)
        if outcome.kind == "succeeded":
            log.info("job %s succeeded in %.1f s", job.public_id, time.monotonic() - started)

    def _record(self, job: Job, token: str, outcome: Outcome, outputs: OutputPaths) -> None:
        if outcome.kind == "succeeded" and outcome.result is not None:
            result = outcome.result
            if not queue.finish_job(self.db_engine, job.id, token,
                                    result_path=result.result_path,
                                    thumb_path=result.thumb_path, width=result.width,
                                    height=result.height, preview_path=result.preview_path):
                self._discard(outputs, job)   # deleted or taken over meanwhile: keep nothing
                log.info("job %s finished but is no longer ours; result dropped", job.public_id)
            return
        self._discard(outputs, job)
        if outcome.kind == "cancelled":
            if self.stopping.is_set() and not queue.is_cancel_requested(self.db_engine, job.id):
                self._put_back(job, token, "waiting in the queue (resumed after restart)")
                log.info("job %s put back in the queue (worker stopping)", job.public_id)
            else:
                queue.cancel_running_job(self.db_engine, job.id, token)
                log.info("job %s cancelled", job.public_id)
        elif outcome.kind == "failed":
            queue.fail_job(self.db_engine, job.id, token, outcome.message)
            log.info("job %s failed: %s", job.public_id, outcome.message)
        elif outcome.kind == "error":
            log.error("job %s crashed with an internal error:\n%s", job.public_id,
                      outcome.message)
            summary = outcome.message.splitlines()[0] if outcome.message else "unknown"
            queue.fail_job(self.db_engine, job.id, token, f"internal error: {summary}")
        else:
            self._engine_crashed(job, token, outcome.message)

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

    def _put_back(self, job: Job, token: str, message: str) -> None:
        try:
            queue.release_job(self.db_engine, job.id, token, message)
        except Exception:  # noqa: BLE001 - the database may be what failed
            log.exception("job %s could not be put back in the queue", job.public_id)

    def _discard(self, outputs: OutputPaths, job: Job) -> None:
        """Remove what the child may have written for this run, half-written files too. The
        preview stays: the job row names it once a preview was reported."""
        made = [p for p in (outputs.result, outputs.thumb, outputs.poster) if p]
        self.store.remove(made)
        self.store.remove_temps_for(made + [outputs.preview])


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


def host_prefix() -> str:
    """The start of every worker id on this machine: ``<hostname>-``."""
    return f"{socket.gethostname()}-"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False          # our own workers have not started yet: an older run's jobs
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return pid < 2**22    # exists under another user (or an impossible pid)
    return True


def abandoned_worker_ids(db_engine: Engine) -> list[str]:
    """Ids of workers on this machine that hold running jobs but whose process is gone.
    Workers of other machines sharing the database, and live processes here, are left
    alone: their jobs are still running."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from app.jobs.models import JobState

    with Session(db_engine) as session:
        ids = session.scalars(select(Job.worker_id).where(Job.state == JobState.RUNNING)
                              .distinct()).all()
    abandoned = []
    for worker_id in ids:
        rest = (worker_id or "").removeprefix(host_prefix())
        pid = rest.split("-", 1)[0]
        if worker_id and rest != worker_id and pid.isdigit() and not _pid_alive(int(pid)):
            abandoned.append(worker_id)
    return abandoned


def recover_abandoned_jobs(db_engine: Engine, max_attempts: int) -> int:
    """Put this machine's interrupted jobs back in the queue (or fail them after
    ``max_attempts`` runs); returns how many jobs changed."""
    ids = abandoned_worker_ids(db_engine)
    count = queue.recover_interrupted_jobs(db_engine, max_attempts, ids) if ids else 0
    if count:
        log.info("recovered %d job(s) interrupted by a restart", count)
    return count


class WorkerPool:
    """The worker threads of one process, with a supervisor that restarts dead ones."""

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
        self.restarts = 0

    def start(self) -> None:
        self._folder_lock.acquire_shared()    # no other process sweeps while we write
        prefix = f"{host_prefix()}{os.getpid()}"
        self.workers = [self._new_worker(f"{prefix}-w{i}", device)
                        for i, device in enumerate(worker_devices(self.settings))]
        self._supervisor = threading.Thread(target=self._supervise_loop, daemon=True,
                                            name="dreamgen-supervisor")
        self._supervisor.start()

    def _new_worker(self, worker_id: str, device: str | None) -> Worker:
        worker = Worker(self.db_engine, self.store, self.settings, worker_id, self._wake,
                        device, self.weights)
        worker.start()
        return worker

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
        children that do not stop in time are killed."""
        self._stopping.set()
        for worker in self.workers:
            worker.stop()
        deadline = time.monotonic() + timeout_s
        for worker in self.workers:
            worker.join(max(0.1, deadline - time.monotonic()))
            if worker.is_alive():
                log.warning("worker %s did not stop within %.0f s", worker.worker_id, timeout_s)
        self._folder_lock.release()
