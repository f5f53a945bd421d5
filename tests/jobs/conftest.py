"""Fixtures for the queue and lease tests: a real database, SQLite file or PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.db.engine import make_db_engine, make_session_factory, upgrade_to_head
from app.db.models import Job
from app.jobs import queue
from tests.support.postgres import PostgresServer

Database = tuple[Engine, sessionmaker[Session]]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL cluster for the session (a fresh database per test)."""
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database at the newest schema: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'jobs.db'}"
    else:
        url = request.getfixturevalue("postgres").new_database()
    upgrade_to_head(url)
    engine = make_db_engine(url)
    yield engine, make_session_factory(engine)
    engine.dispose()


def enqueue(factory: sessionmaker[Session], n: int, **overrides: object) -> list[Job]:
    """``n`` queued MicroAST jobs (inputs named, not written: the queue never opens them)."""
    fields = dict(owner_id="owner-a", kind="image", engine="microast", options={"alpha": 1.0},
                  content_path="uploads/c.png", style_paths=["uploads/s.png"])
    fields.update(overrides)
    with factory() as session:
        return [queue.enqueue_job(session, **fields) for _ in range(n)]  # type: ignore[arg-type]
