"""What a studio process runs on, built once: the settings, the database (engine and
sessions), the media store and the weights store.

The web app's lifespan, ``dreamgen worker`` and the command line's database commands all
open a :class:`Runtime` the same way, so the schema upgrade, the pool sizes and the media
folder's lock are decided in one place. :func:`studio_runtime` adds what a process that
runs jobs does at start: this machine's interrupted jobs back in the queue, and (when it is
alone on the media folder) crash leftovers swept away.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.db.engine import make_db_engine, make_session_factory, upgrade_to_head
from app.engine.weights.store import WeightStore
from app.jobs.sweep import MediaFolderLock, sweep_media
from app.settings import Settings
from app.storage import MediaStore


def configure_logging() -> None:
    """Show dreamgen's INFO lines (the workers') beside uvicorn's, unless logging is
    already set up."""
    logger = logging.getLogger("dreamgen")
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


@dataclass
class Runtime:
    """The parts one process shares: close it with :meth:`close`."""

    settings: Settings
    db_engine: Engine
    sessions: sessionmaker[Session]
    store: MediaStore
    weights: WeightStore
    folder_lock: MediaFolderLock | None = field(default=None, repr=False)

    @classmethod
    def open(cls, settings: Settings, weights: WeightStore | None = None, *,
             migrate: bool = True, pool_size: int = 16) -> "Runtime":
        """The runtime of ``settings``: the schema brought to head first (``migrate``;
        a read-only command leaves a live studio's database alone)."""
        if migrate:
            upgrade_to_head(settings.database_url)
        db_engine = make_db_engine(settings.database_url, pool_size=pool_size)
        return cls(settings, db_engine, make_session_factory(db_engine),
                   MediaStore(settings.media_dir),
                   weights or WeightStore.from_settings(settings))

    def share_media_folder(self) -> None:
        """Take the media folder's lock shared: a studio starting meanwhile will not sweep
        the files this process is still writing."""
        self.folder_lock = MediaFolderLock(self.store.root)
        self.folder_lock.acquire_shared()

    def close(self) -> None:
        """Release the media folder and the database connections."""
        if self.folder_lock is not None:
            self.folder_lock.release()
        self.db_engine.dispose()


@contextmanager
def studio_runtime(settings: Settings, weights: WeightStore | None = None, *,
                   sweep: bool = True) -> Iterator[Runtime]:
    """A :class:`Runtime` for a process that runs jobs (the web app with its workers, or
    ``dreamgen worker``): this machine's interrupted jobs go back in the queue, and with
    ``sweep`` crash leftovers leave the media folder when no other process shares it."""
    from app.jobs.worker import recover_abandoned_jobs

    runtime = Runtime.open(settings, weights)
    try:
        recover_abandoned_jobs(runtime.db_engine, settings.max_attempts)
        if sweep:
            runtime.folder_lock = MediaFolderLock(runtime.store.root)
            sweep_media(runtime.store, runtime.db_engine,
                        alone=runtime.folder_lock.acquire_alone())
            runtime.folder_lock.share()
        yield runtime
    finally:
        runtime.close()
