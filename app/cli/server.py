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

    from app.jobs.worker import WorkerPool
    from app.runtime import configure_logging, studio_runtime
    from app.settings import get_settings

    settings = get_settings()
    configure_logging()
    # a worker beside a studio on the same media folder never sweeps it: the studio does
    with studio_runtime(settings, sweep=False) as runtime:
        pool = WorkerPool(runtime.db_engine, runtime.store, settings, runtime.weights)
        stopping = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.set())
        pool.start()
        click.echo(f"{len(pool.workers)} worker(s) running on {settings.database_url}; "
                   "Ctrl-C stops", err=True)
        while not stopping.wait(1.0):
            pool.supervise()
        pool.stop()


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

    from app.jobs.leases import list_workers
    from app.runtime import Runtime
    from app.settings import get_settings

    settings = get_settings()
    runtime = Runtime.open(settings, migrate=False, pool_size=1)   # a read: no migration
    try:
        with runtime.sessions() as session:
            statuses = list_workers(session, settings.lease_seconds)
    except SQLAlchemyError as exc:
        raise UserError(f"cannot read the workers from {settings.database_url}: "
                        f"{type(exc).__name__} (has `dreamgen serve` or `dreamgen worker` run "
                        "on this database yet? they create its tables)") from None
    finally:
        runtime.close()
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
