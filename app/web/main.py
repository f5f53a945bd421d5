"""The web app factory: settings, database, media, worker threads, routers."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from app.jobs.db import make_engine, make_session_factory, upgrade_to_head
from app.jobs.sweep import MediaFolderLock, sweep_media
from app.jobs.worker import WorkerPool, recover_abandoned_jobs
from app.settings import Settings, get_settings
from app.storage import MediaStore
from app.web import api, media, pages
from app.web.errors import install_error_handlers
from app.web.limits import BodySizeMiddleware, RateLimiter
from app.web.owner import OwnerCookieMiddleware
from app.web.security import SecurityMiddleware

ROOT = Path(__file__).resolve().parents[2]


def configure_logging() -> None:
    """Show the worker's INFO lines beside uvicorn's unless logging is already set up."""
    logger = logging.getLogger("dreamgen")
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Schema to head, this machine's interrupted jobs back in the queue, crash leftovers
    out of the media folder, workers on; workers off at exit."""
    settings: Settings = app.state.settings
    configure_logging()
    upgrade_to_head(settings.database_url)
    engine = make_engine(settings.database_url)
    app.state.store = MediaStore(settings.media_dir)
    folder_lock = MediaFolderLock(settings.media_dir)
    app.state.session_factory = make_session_factory(engine)
    recover_abandoned_jobs(engine, settings.max_attempts)
    sweep_media(app.state.store, engine, alone=folder_lock.acquire_alone())
    folder_lock.share()
    pool = WorkerPool(engine, app.state.store, settings)
    app.state.wake_workers = pool.wake
    if settings.run_worker:
        pool.start()
    try:
        yield
    finally:
        pool.stop()
        engine.dispose()
        folder_lock.release()


def create_app(settings: Settings | None = None) -> FastAPI:
    """The dreamgen web app (``uvicorn --factory app.web.main:create_app``)."""
    app = FastAPI(title="dreamgen", summary="One-click neural style transfer",
                  lifespan=lifespan)
    app.state.settings = settings or get_settings()
    app.state.templates = Jinja2Templates(directory=ROOT / "templates")
    app.state.rate_limiter = RateLimiter(app.state.settings.rate_limit_per_minute)
    app.add_middleware(BodySizeMiddleware)
    app.add_middleware(OwnerCookieMiddleware)
    app.add_middleware(SecurityMiddleware)       # outermost: headers on every response
    install_error_handlers(app)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(media.router)
    app.mount("/static", StaticFiles(directory=ROOT / "static"), name="static")
    return app
