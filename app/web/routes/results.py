"""The routers of a result's life after it is made: My results and owner keys
(:mod:`app.web.routes.me`), retry, delete with undo and details (:mod:`app.web.routes.job_actions`),
downloads, strength previews and moderation, plus the thread that removes deleted jobs for
good once their undo window has passed (:class:`app.people.trash.TrashCollector`)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import APIRouter, FastAPI

from app.people.trash import TrashCollector, purge_due
from app.web.routes import derived, downloads, job_actions, me, moderation, strength


@asynccontextmanager
async def collect_trash(app: FastAPI) -> AsyncIterator[None]:
    """Runs inside the app's lifespan (the database and media store exist by then)."""
    purge_due(app.state.db_engine, app.state.store)      # what was due while we were down
    collector = TrashCollector(app.state.db_engine, app.state.store)
    collector.start()
    try:
        yield
    finally:
        collector.stop()


router = APIRouter(lifespan=collect_trash)
for part in (me, job_actions, derived, downloads, strength, moderation):
    router.include_router(part.router)
