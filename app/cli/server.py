"""``dreamgen serve`` (the studio) and ``dreamgen worker`` (job workers on their own)."""

from __future__ import annotations

import click

from app.cli import main


@main.command()
@click.option("--host", default=None, help="Address to listen on (default: DREAMGEN_HOST).")
@click.option("--port", type=int, default=None, help="Port (default: DREAMGEN_PORT).")
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
def serve(host: str | None, port: int | None, reload: bool) -> None:
    """Start the web app (with its workers, unless DREAMGEN_RUN_WORKER=false)."""
    from app.settings import get_settings
    from app.web.server import run_server

    run_server(get_settings(), host=host, port=port, reload=reload)


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
