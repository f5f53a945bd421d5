"""Typed dependency aliases for the routers: the database session, settings, media store,
weights store, and the visitor's owner id (from the owner cookie, see :mod:`app.web.middleware.owner`)."""

from __future__ import annotations

import threading
from typing import Annotated, Callable, Iterator, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.engine.weights.store import WeightStore
from app.settings import Settings
from app.storage import MediaStore

T = TypeVar("T")

# At most this many requests hold a database session at once; the others wait for a slot on
# the event loop, not in a worker thread, so a crowd of readers can neither exhaust the
# connection pool (:func:`app.db.engine.make_db_engine` lends more than this) nor the thread
# pool that static files and uploads also need.
DB_REQUEST_CONCURRENCY = 24


def get_session(request: Request) -> Iterator[Session]:
    """One database session per request, closed as soon as the route returns (before the
    response is sent), so a slow client never holds a pooled connection."""
    with request.app.state.session_factory() as session:
        yield session


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_store(request: Request) -> MediaStore:
    return request.app.state.store


def get_weights(request: Request) -> WeightStore:
    return request.app.state.weights


def get_owner(request: Request) -> str:
    return request.state.owner_id


SessionDep = Annotated[Session, Depends(get_session, scope="function",
                                        max_concurrency=DB_REQUEST_CONCURRENCY)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
StoreDep = Annotated[MediaStore, Depends(get_store)]
WeightsDep = Annotated[WeightStore, Depends(get_weights)]
OwnerDep = Annotated[str, Depends(get_owner)]


_PER_APP_LOCK = threading.Lock()


def per_app(request: Request, name: str, make: Callable[[], T]) -> T:
    """``request.app.state.<name>``, made by ``make`` on first use (once per app, under a
    lock: two first requests at once must share one object)."""
    with _PER_APP_LOCK:
        value = getattr(request.app.state, name, None)
        if value is None:
            value = make()
            setattr(request.app.state, name, value)
    return value

