"""Typed dependency aliases for the routers: the database session, settings, media store,
and the visitor's owner id (from the owner cookie, see :mod:`app.web.owner`)."""

from __future__ import annotations

from typing import Annotated, Iterator

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.settings import Settings
from app.storage import MediaStore


def get_session(request: Request) -> Iterator[Session]:
    """One database session per request."""
    with request.app.state.session_factory() as session:
        yield session


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_store(request: Request) -> MediaStore:
    return request.app.state.store


def get_owner(request: Request) -> str:
    return request.state.owner_id


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
StoreDep = Annotated[MediaStore, Depends(get_store)]
OwnerDep = Annotated[str, Depends(get_owner)]
