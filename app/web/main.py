"""The web app factory: settings, database, media, weights, worker threads, routers."""

from __future__ import annotations

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
from app.jobs.worker import WorkerPool
from app.resources import package_folder
from app.runtime import configure_logging, studio_runtime
from app.settings import Settings, get_settings
from app.web.errors import install_error_handlers
from app.web.limits import PerClientCount, RateLimiter
from app.web.middleware.accounts import AccountSessionMiddleware
from app.web.middleware.body_guard import BodyGuardMiddleware
from app.web.middleware.owner import OwnerCookieMiddleware
from app.web.middleware.request_ids import RequestIdMiddleware
from app.web.middleware.security import SecurityMiddleware
from app.web.routes import (
    admin,
    api,
    api_docs,
    batches,
    community,
    health,
    media,
    metrics,
    models,
    pages,
    queue_admin,
    results,
    styles,
)
from app.web.services.check_queue import CheckQueue
from app.web.services.progress_feed import ProgressFeed


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The process's runtime (:func:`app.runtime.studio_runtime`: schema to head, this
    machine's interrupted jobs back in the queue, crash leftovers swept), the progress feed
    and the workers on; all off at exit."""
    from app.isolation import warm_up

    settings: Settings = app.state.settings
    configure_logging()
    # The fork server imports torch once (seconds): start it now, beside the other work.
    threading.Thread(target=warm_up, name="dreamgen-forkserver", daemon=True).start()
    with studio_runtime(settings, app.state.weights) as runtime:
        app.state.runtime = runtime
        app.state.db_engine = runtime.db_engine
        app.state.store = runtime.store
        app.state.session_factory = runtime.sessions
        app.state.progress_feed = ProgressFeed(runtime.sessions)
        pool = WorkerPool(runtime.db_engine, runtime.store, settings, runtime.weights)
        app.state.workers = pool
        app.state.wake_workers = pool.wake
        if settings.run_worker:
            pool.start()
        try:
            yield
        finally:
            app.state.progress_feed.close()
            pool.stop()


def create_app(settings: Settings | None = None, weights: WeightStore | None = None) -> FastAPI:
    """The dreamgen web app (``dreamgen serve``, or ``uvicorn --factory
    app.web.main:create_app``). ``weights`` defaults to the settings' weights store. Raises
    :class:`~app.admin_token.AdminTokenError` when the admin token cannot be used."""
    # /docs is our own page (app/web/routes/api_docs.py): FastAPI's loads its viewer from a CDN
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
    app.add_middleware(AccountSessionMiddleware)   # inside the owner cookie's
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
    app.include_router(batches.router)
    app.include_router(api_docs.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(pages.router)
    app.include_router(media.router)
    app.include_router(admin.router)
    app.include_router(queue_admin.router)
    app.include_router(results.router)
    app.include_router(styles.router)
    app.include_router(models.router)
    app.include_router(community.router)
    app.mount("/static", StaticFiles(directory=package_folder("static")), name="static")
    return app
