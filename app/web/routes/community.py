"""The community's routers in one (accounts, profiles, likes and comments, collections,
allowances, the admin's part), and the start-up work they share: the decoy password hash
is made in the background at start, so the first sign-in with an unknown name takes no
longer than one with a wrong password."""

from __future__ import annotations

import threading
from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import APIRouter, FastAPI

from app.people.passwords import warm_up
from app.web.routes import (
    account,
    allowance,
    auth,
    collections,
    community_admin,
    people,
    social,
)


@asynccontextmanager
async def warm_passwords(app: FastAPI) -> AsyncIterator[None]:
    threading.Thread(target=warm_up, name="dreamgen-password-decoy", daemon=True).start()
    yield


router = APIRouter(lifespan=warm_passwords)
for part in (auth, account, people, social, collections, allowance, community_admin):
    router.include_router(part.router)
