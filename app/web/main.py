"""The web app factory: settings, database, media, weights, worker threads, routers."""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from app.admin_token import AdminToken
from app.engine.methods.deepdream.networks import NETWORKS
from app.engine.registry import BY_NAME
from app.engine.weights.store import WeightStore
from app.jobs.db import make_db_engine, make_session_factory, upgrade_to_head
from app.jobs.sweep import MediaFolderLock, sweep_media
from app.jobs.worker import WorkerPool, recover_abandoned_jobs
from app.resources import package_folder
from app.settings import Settings, get_settings
from app.storage import MediaStore
from app.web import admin, api, api_docs, health, media, metrics, pages, results, styles
from app.web.errors import install_error_handlers
from app.web.body_guard import BodyGuardMiddleware
from app.web.check_queue import CheckQueue
from app.web.limits import PerClientCount, RateLimiter
from app.web.owner import OwnerCookieMiddleware
from app.web.progress_feed import ProgressFeed
from app.web.request_ids import RequestIdMiddleware
from app.web.security import SecurityMiddleware


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
    from app.isolation import warm_up

    settings: Settings = app.state.settings
    configure_logging()
    # The fork server imports torch once (seconds): start it now, beside the other work.
    threading.Thread(target=warm_up, name="dreamgen-forkserver", daemon=True).start()
    upgrade_to_head(settings.database_url)
    db_engine = make_db_engine(settings.database_url)
    app.state.db_engine = db_engine
    app.state.store = MediaStore(settings.media_dir)
    folder_lock = MediaFolderLock(settings.media_dir)
    app.state.session_factory = make_session_factory(db_engine)
    app.state.progress_feed = ProgressFeed(app.state.session_factory)
    recover_abandoned_jobs(db_engine, settings.max_attempts)
    sweep_media(app.state.store, db_engine, alone=folder_lock.acquire_alone())
    folder_lock.share()
    pool = WorkerPool(db_engine, app.state.store, settings, app.state.weights)
    app.state.workers = pool
    app.state.wake_workers = pool.wake
    if settings.run_worker:
        pool.start()
    try:
        yield
    finally:
        app.state.progress_feed.close()
        pool.stop()
        db_engine.dispose()
        folder_lock.release()


def create_app(settings: Settings | None = None, weights: WeightStore | None = None) -> FastAPI:
    """The dreamgen web app (``dreamgen serve``, or ``uvicorn --factory
    app.web.main:create_app``). ``weights`` defaults to the settings' weights store. Raises
    :class:`~app.admin_token.AdminTokenError` when the admin token cannot be used."""
    # /docs is our own page (app/web/api_docs.py): FastAPI's loads its viewer from a CDN
    app = FastAPI(title="dreamgen", summary="One-click neural style transfer and Deep Dream",
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings = settings or get_settings()
    # Made (or read) now, so a short DREAMGEN_ADMIN_TOKEN stops the studio before it serves.
    app.state.admin_token = AdminToken.from_settings(settings)
    app.state.weights = weights or WeightStore.from_settings(settings)
    app.state.templates = Jinja2Templates(directory=package_folder("templates"))
    app.state.templates.env.globals["engine_spec"] = BY_NAME.get
    app.state.templates.env.globals["dream_network"] = NETWORKS.get
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
    app.state.event_streams = PerClientCount(settings.max_event_streams_per_client)
    app.state.upload_checks = CheckQueue(settings.upload_checks,
                                         settings.upload_check_wait_seconds)
    app.state.workers = None
    app.add_middleware(BodyGuardMiddleware)
    app.add_middleware(OwnerCookieMiddleware)
    app.add_middleware(SecurityMiddleware)       # headers on every response
    app.add_middleware(RequestIdMiddleware)
    if settings.trusted_proxies.strip():
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        # Only these addresses may say who the client is (X-Forwarded-For / -Proto).
        app.add_middleware(ProxyHeadersMiddleware,
                           trusted_hosts=[h.strip() for h in settings.trusted_proxies.split(",")
                                          if h.strip()])
    install_error_handlers(app)
    app.include_router(api.router)
    app.include_router(api_docs.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(pages.router)
    app.include_router(media.router)
    app.include_router(admin.router)
    app.include_router(results.router)
    app.include_router(styles.router)
    app.mount("/static", StaticFiles(directory=package_folder("static")), name="static")
    return app
