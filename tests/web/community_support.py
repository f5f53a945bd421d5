"""What the community's tests share: an app with a known admin token, browsers that sign
up, a finished public result, and moving a day's spending into the past."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db.community import WorkSpent
from app.db.engine import begin_write
from app.db.models import as_utc
from app.settings import Settings
from app.web.main import create_app
from tests.web.conftest import submit, wait_for

TOKEN = "community-admin-token-for-tests"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
PASSWORD = "correct horse battery"


@pytest.fixture
def studio(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    """An app with workers and a known admin token (no job rate limit: the walks make
    several jobs)."""
    with TestClient(create_app(make_settings(admin_token=TOKEN,
                                             rate_limit_per_minute=0))) as client:
        yield client


def browser(client: TestClient) -> TestClient:
    """Another browser on the same server (its own cookie jar; the app already runs)."""
    return TestClient(client.app)


def sign_up(client: TestClient, name: str, password: str = PASSWORD, **extra: Any) -> dict:
    response = client.post("/api/auth/signup",
                           json={"username": name, "password": password, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def published(client: TestClient, **form: Any) -> dict:
    """A finished public result of ``client``'s (a real MicroAST job)."""
    created = submit(client, **form)
    assert created.status_code == 201, created.text
    job = wait_for(client, created.json()["id"])
    assert job["state"] == "succeeded", job
    return job


def spent_yesterday(client: TestClient, owner_id: str | None = None) -> None:
    """Move what was spent (of ``owner_id``, or everyone's) a day into the past: what a
    midnight passing does to today's allowance."""
    with client.app.state.session_factory() as session:
        begin_write(session)
        query = select(WorkSpent)
        if owner_id is not None:
            query = query.where(WorkSpent.owner_id == owner_id)
        for row in session.scalars(query):
            row.spent_at = as_utc(row.spent_at) - timedelta(days=1)
        session.commit()
