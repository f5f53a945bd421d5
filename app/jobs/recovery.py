"""Start-up recovery on one machine: the jobs of this host's workers whose process is gone
go back to the queue at once (the fast path after a restart; workers elsewhere lose theirs
when their lease runs out, :mod:`app.jobs.leases`).

Worker ids are ``<hostname>-<pid>-w<N>``, so the host and the process of a job's worker can
be read from the job row; a process that no longer exists on this host cannot be running it.
"""

from __future__ import annotations

import logging
import os
import socket

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from app.db.models import Job, JobState, WorkerRecord
from app.jobs import queue

log = logging.getLogger("dreamgen.worker")


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


def _is_dead_local_worker(worker_id: str | None) -> bool:
    rest = (worker_id or "").removeprefix(host_prefix())
    pid = rest.split("-", 1)[0]
    return bool(worker_id) and rest != worker_id and pid.isdigit() and not _pid_alive(int(pid))


def abandoned_worker_ids(db_engine: Engine) -> list[str]:
    """Ids of workers on this machine that hold running jobs but whose process is gone.
    Workers of other machines sharing the database, and live processes here, are left
    alone: their jobs are still running."""
    with Session(db_engine) as session:
        ids = session.scalars(select(Job.worker_id).where(Job.state == JobState.RUNNING)
                              .distinct()).all()
    return [worker_id for worker_id in ids if _is_dead_local_worker(worker_id)]


def forget_dead_local_workers(db_engine: Engine) -> int:
    """Delete the worker rows of this host's processes that are gone; returns how many."""
    with Session(db_engine) as session:
        ids = session.scalars(select(WorkerRecord.id)
                              .where(WorkerRecord.host == socket.gethostname())).all()
    dead = [worker_id for worker_id in ids if _is_dead_local_worker(worker_id)]
    if dead:
        with queue.write_session(db_engine) as session:
            session.execute(delete(WorkerRecord).where(WorkerRecord.id.in_(dead)))
            session.commit()
    return len(dead)


def recover_abandoned_jobs(db_engine: Engine, max_attempts: int) -> int:
    """Put this machine's interrupted jobs back in the queue (or fail them after
    ``max_attempts`` runs) and forget its dead workers' rows; returns how many jobs
    changed."""
    ids = abandoned_worker_ids(db_engine)
    count = queue.recover_interrupted_jobs(db_engine, max_attempts, ids) if ids else 0
    if count:
        log.info("recovered %d job(s) interrupted by a restart", count)
    forget_dead_local_workers(db_engine)
    return count
