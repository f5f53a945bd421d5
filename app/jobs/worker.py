"""The worker: threads that take queued jobs from the database and run the engines.

Each :class:`Worker` claims the oldest queued job atomically (so several threads or processes
can share one database), runs it, and records progress, the result or the error in the job
row. Models stay loaded between jobs (the engines cache them). On shutdown a running job is
put back in the queue; a crash leaves it ``running`` and the next start re-queues it
(:func:`app.jobs.queue.recover_interrupted_jobs`).
"""

from __future__ import annotations

import io
import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Callable

from PIL import Image
from sqlalchemy import Engine

from app.engine.api import Progress, StyleOptions, stylize_image
from app.engine.errors import Cancelled, StyleTransferError
from app.engine.images import load_image
from app.jobs import queue
from app.jobs.models import Job
from app.jobs.sweep import MediaFolderLock
from app.jobs.thumbnails import save_poster, save_preview, save_thumbnail
from app.settings import Settings
from app.storage import MediaStore

log = logging.getLogger("dreamgen.worker")

PROGRESS_INTERVAL_S = 0.25      # at most 4 progress writes a second
CANCEL_CHECK_INTERVAL_S = 0.5
IDLE_POLL_S = 1.0               # how often an idle worker looks for jobs added elsewhere


class JobCancelToken:
    """``is_set()`` is true once the job's owner asked to cancel (read from the database,
    at most every half second) or the worker is stopping."""

    def __init__(self, engine: Engine, job_id: int, stopping: threading.Event) -> None:
        self.engine, self.job_id, self.stopping = engine, job_id, stopping
        self._checked_at, self._requested = 0.0, False

    def is_set(self) -> bool:
        if self.stopping.is_set():
            return True
        now = time.monotonic()
        if not self._requested and now - self._checked_at >= CANCEL_CHECK_INTERVAL_S:
            self._checked_at = now
            self._requested = queue.is_cancel_requested(self.engine, self.job_id)
        return self._requested


class ProgressReporter:
    """Writes progress to the job row, throttled; previews are saved as small JPEGs."""

    def __init__(self, engine: Engine, store: MediaStore, job: Job) -> None:
        self.engine, self.store, self.job = engine, store, job
        self._written_at = 0.0
        self.preview_path: str | None = job.preview_path

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if progress.preview is None and now - self._written_at < PROGRESS_INTERVAL_S \
                and progress.fraction < 1.0:
            return
        self._written_at = now
        if progress.preview is not None:
            self.preview_path = save_preview(self.store, progress.preview, self.preview_path)
        queue.update_progress(self.engine, self.job.id, progress.fraction * 0.98,
                              progress.message,
                              self.preview_path if progress.preview is not None else None)


def style_options(job: Job, device: str) -> StyleOptions:
    """The engine options a job asked for (as stored by the web layer), on ``device``."""
    opts = job.options
    weights = opts.get("style_weights")
    return StyleOptions(engine=job.engine, alpha=float(opts.get("alpha", 1.0)),
                        style_weights=tuple(weights) if weights else None,
                        preserve_color=bool(opts.get("preserve_color", False)),
                        max_side=int(opts.get("size", 512)),
                        iterations=int(opts.get("iterations", 300)), device=device)


class Worker(threading.Thread):
    """One thread running jobs one after another until :meth:`stop`."""

    def __init__(self, engine: Engine, store: MediaStore, settings: Settings,
                 worker_id: str, wake: threading.Event, device: str | None = None) -> None:
        super().__init__(name=f"dreamgen-{worker_id}", daemon=True)
        self.engine, self.store, self.settings = engine, store, settings
        self.worker_id, self.wake, self.device = worker_id, wake, device
        self.stopping = threading.Event()

    def run(self) -> None:
        log.info("worker %s started", self.worker_id)
        while not self.stopping.is_set():
            job = queue.claim_next_job(self.engine, self.worker_id)
            if job is None:
                self.wake.wait(IDLE_POLL_S)
                self.wake.clear()
                continue
            self.run_job(job)
        log.info("worker %s stopped", self.worker_id)

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    def run_job(self, job: Job) -> None:
        """Run one claimed job to an end state (or back to the queue when stopping)."""
        log.info("job %s (%s, %s) started, attempt %d", job.public_id, job.kind, job.engine,
                 job.attempts)
        cancel = JobCancelToken(self.engine, job.id, self.stopping)
        reporter = ProgressReporter(self.engine, self.store, job)
        started = time.monotonic()
        made: list[str] = []
        try:
            outputs = (self._run_video if job.kind == "video" else self._run_image)(
                job, reporter, cancel, made)
        except Cancelled:
            self.store.remove(made)
            if self.stopping.is_set() and not queue.is_cancel_requested(self.engine, job.id):
                queue.release_job(self.engine, job.id)
                log.info("job %s put back in the queue (worker stopping)", job.public_id)
            else:
                queue.cancel_running_job(self.engine, job.id)
                log.info("job %s cancelled", job.public_id)
            return
        except StyleTransferError as exc:
            self.store.remove(made)
            queue.fail_job(self.engine, job.id, str(exc))
            log.info("job %s failed: %s", job.public_id, exc)
            return
        except Exception as exc:
            self.store.remove(made)
            log.exception("job %s crashed", job.public_id)
            queue.fail_job(self.engine, job.id, f"internal error: {type(exc).__name__}: {exc}")
            return
        if not queue.finish_job(self.engine, job.id, **outputs):
            self.store.remove(made)   # deleted or recovered meanwhile: nothing to keep
            log.info("job %s finished but was no longer running; result dropped", job.public_id)
            return
        log.info("job %s succeeded in %.1f s", job.public_id, time.monotonic() - started)

    def _options(self, job: Job) -> StyleOptions:
        return style_options(job, self.device or self.settings.device)

    def _styles(self, job: Job) -> list[Image.Image]:
        n = len(job.style_paths)
        return [load_image(self.store.path(rel), "the style image" if n == 1 else
                           f"style image {i + 1}", self.settings.max_image_megapixels)
                for i, rel in enumerate(job.style_paths)]

    def _run_image(self, job: Job, reporter: ProgressReporter, cancel: JobCancelToken,
                   made: list[str]) -> dict[str, object]:
        content = load_image(self.store.path(job.content_path), "the content image",
                             self.settings.max_image_megapixels)
        result = stylize_image(content, self._styles(job), self._options(job),
                               on_progress=reporter, cancel=cancel)
        clean = Image.new("RGB", result.size)   # no metadata of any kind in the PNG
        clean.paste(result.convert("RGB"))
        buffer = io.BytesIO()
        clean.save(buffer, "PNG", optimize=False)
        rel = self.store.new_result_path(".png")
        made.append(rel)
        self.store.write_atomic(rel, _writer_pausing_for_tests(buffer.getvalue()))
        thumb = save_thumbnail(self.store, clean)
        made.append(thumb)
        return {"result_path": rel, "thumb_path": thumb, "width": clean.width,
                "height": clean.height}

    def _run_video(self, job: Job, reporter: ProgressReporter, cancel: JobCancelToken,
                   made: list[str]) -> dict[str, object]:
        from app.video.pipeline import extract_poster, stylize_video
        from app.video.probe import VideoLimits

        rel = self.store.new_result_path(".mp4")
        made.append(rel)
        dst = self.store.path(rel)
        dst.parent.mkdir(parents=True, exist_ok=True)
        info = stylize_video(Path(self.store.path(job.content_path)), dst, self._styles(job),
                             self._options(job), reporter, cancel,
                             limits=VideoLimits.from_settings(self.settings))
        poster_image = extract_poster(dst)
        poster = save_poster(self.store, poster_image)
        made.append(poster)
        thumb = save_thumbnail(self.store, poster_image)
        made.append(thumb)
        queue.update_progress(self.engine, job.id, 0.99, "finishing", preview_path=poster)
        return {"result_path": rel, "thumb_path": thumb, "width": info.width,
                "height": info.height}


def _writer_pausing_for_tests(data: bytes) -> Callable[[Path], None]:
    """Writes ``data`` to the temporary file; TEST ONLY: ``DREAMGEN_TEST_PAUSE_BEFORE_RENAME``
    seconds then pass before the rename, so the crash tests can kill the server while a
    result is half-way to its final name. Never set it in production."""
    pause_s = float(os.environ.get("DREAMGEN_TEST_PAUSE_BEFORE_RENAME") or 0)

    def write(temp: Path) -> None:
        temp.write_bytes(data)
        if pause_s > 0:
            log.warning("pausing %.1f s before renaming %s (test hook)", pause_s, temp.name)
            time.sleep(pause_s)
    return write


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


def abandoned_worker_ids(engine: Engine) -> list[str]:
    """Ids of workers on this machine that hold running jobs but whose process is gone.
    Workers of other machines sharing the database, and live processes here, are left
    alone: their jobs are still running."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from app.jobs.models import JobState

    with Session(engine) as session:
        ids = session.scalars(select(Job.worker_id).where(Job.state == JobState.RUNNING)
                              .distinct()).all()
    abandoned = []
    for worker_id in ids:
        rest = (worker_id or "").removeprefix(host_prefix())
        pid = rest.split("-", 1)[0]
        if worker_id and rest != worker_id and pid.isdigit() and not _pid_alive(int(pid)):
            abandoned.append(worker_id)
    return abandoned


def recover_abandoned_jobs(engine: Engine, max_attempts: int) -> int:
    """Put this machine's interrupted jobs back in the queue (or fail them after
    ``max_attempts`` runs); returns how many jobs changed."""
    ids = abandoned_worker_ids(engine)
    count = queue.recover_interrupted_jobs(engine, max_attempts, ids) if ids else 0
    if count:
        log.info("recovered %d job(s) interrupted by a restart", count)
    return count


class WorkerPool:
    """The worker threads of one web process."""

    def __init__(self, engine: Engine, store: MediaStore, settings: Settings) -> None:
        self.engine, self.store, self.settings = engine, store, settings
        self._wake = threading.Event()
        self.workers: list[Worker] = []
        self._folder_lock = MediaFolderLock(store.root)

    def start(self) -> None:
        self._folder_lock.acquire_shared()    # no other process sweeps while we write
        prefix = f"{host_prefix()}{os.getpid()}"
        self.workers = [Worker(self.engine, self.store, self.settings, f"{prefix}-w{i}",
                               self._wake, device)
                        for i, device in enumerate(worker_devices(self.settings))]
        for worker in self.workers:
            worker.start()

    def wake(self) -> None:
        """Tell idle workers a job was just queued (they also poll every second)."""
        self._wake.set()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop every worker: a running job is cancelled and put back in the queue."""
        for worker in self.workers:
            worker.stop()
        for worker in self.workers:
            worker.join(timeout_s)
            if worker.is_alive():
                log.warning("worker %s did not stop within %.0f s", worker.worker_id, timeout_s)
        self._folder_lock.release()
