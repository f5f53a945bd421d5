"""``dreamgen serve`` (the studio), ``dreamgen worker`` (job workers on their own) and
``dreamgen workers`` (who is working, from the shared database)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from app.cli.base import UserError, main

if TYPE_CHECKING:
    from app.jobs.leases import WorkerStatus


@main.command()
@click.option("--host", default=None, help="Address to listen on (default: DREAMGEN_HOST).")
@click.option("--port", type=int, default=None, help="Port (default: DREAMGEN_PORT).")
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
def serve(host: str | None, port: int | None, reload: bool) -> None:
    """Start the web app (with its workers, unless DREAMGEN_RUN_WORKER=false)."""
    from app.admin_token import AdminToken, AdminTokenError, sign_in_help
    from app.settings import get_settings
    from app.web.server import run_server

    settings = get_settings()
    try:
        click.echo(sign_in_help(settings, AdminToken.from_settings(settings), host, port),
                   err=True)
    except AdminTokenError as exc:
        raise UserError(str(exc)) from None
    run_server(settings, host=host, port=port, reload=reload)


@main.command()
def worker() -> None:
    """Run job workers without the web server (an extra machine sharing the database and
    media folder); stops cleanly on Ctrl-C or SIGTERM, putting a running job back."""
    import signal
    import threading

    from app.jobs.db import make_db_engine, upgrade_to_head
    from app.jobs.worker import WorkerPool, recover_abandoned_jobs
    from app.settings import get_settings
    from app.storage import MediaStore
    from app.web.main import configure_logging

    settings = get_settings()
    configure_logging()
    upgrade_to_head(settings.database_url)
    db_engine = make_db_engine(settings.database_url)
    recover_abandoned_jobs(db_engine, settings.max_attempts)
    pool = WorkerPool(db_engine, MediaStore(settings.media_dir), settings)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    pool.start()
    click.echo(f"{len(pool.workers)} worker(s) running on {settings.database_url}; "
               "Ctrl-C stops", err=True)
    while not stopping.wait(1.0):
        pool.supervise()
    pool.stop()
    db_engine.dispose()


WORKER_COLUMNS = ("WORKER", "HOST", "PID", "DEVICE", "JOB", "HEARTBEAT", "STATUS")


def worker_table(statuses: list["WorkerStatus"]) -> str:
    """The workers as an aligned text table, one line each (what `dreamgen workers` prints)."""
    rows = [WORKER_COLUMNS] + [
        (w.id, w.host, str(w.pid), w.device, w.job_public_id or "-",
         f"{w.heartbeat_age_s:.0f} s ago", "alive" if w.alive else "stale")
        for w in statuses]
    widths = [max(len(row[i]) for row in rows) for i in range(len(WORKER_COLUMNS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in rows)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per worker instead.")
def workers(as_json: bool) -> None:
    """List the workers sharing the database: host, pid, device, current job, heartbeat age,
    and whether they are alive or stale (no heartbeat for DREAMGEN_LEASE_SECONDS)."""
    import json

    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session

    from app.jobs.db import make_db_engine
    from app.jobs.leases import list_workers
    from app.settings import get_settings

    settings = get_settings()
    db_engine = make_db_engine(settings.database_url, pool_size=1)
    try:
        with Session(db_engine) as session:
            statuses = list_workers(session, settings.lease_seconds)
    except SQLAlchemyError as exc:
        raise UserError(f"cannot read the workers from {settings.database_url}: "
                        f"{type(exc).__name__} (has `dreamgen serve` or `dreamgen worker` run "
                        "on this database yet? they create its tables)") from None
    finally:
        db_engine.dispose()
    if as_json:
        for w in statuses:
            click.echo(json.dumps({"id": w.id, "host": w.host, "pid": w.pid,
                                   "device": w.device, "job": w.job_public_id,
                                   "heartbeat_age_s": round(w.heartbeat_age_s, 1),
                                   "alive": w.alive}))
    elif statuses:
        click.echo(worker_table(statuses))
    else:
        click.echo("No workers are registered in this database.", err=True)
