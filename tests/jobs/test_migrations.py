"""Alembic migrations: head matches the models, round-trips, and a failed upgrade restores."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from alembic import command
from app.db.engine import alembic_config, upgrade_to_head
from app.db.models import Base


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_head_schema_matches_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade_to_head(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"


def test_upgrade_downgrade_upgrade_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    url = f"sqlite:///{path}"
    config = alembic_config(url)
    command.upgrade(config, "head")
    assert "jobs" in _tables(path)
    command.downgrade(config, "base")
    assert "jobs" not in _tables(path)
    command.upgrade(config, "head")
    assert "jobs" in _tables(path)


def test_failed_upgrade_restores_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "db.sqlite"
    url = f"sqlite:///{path}"
    upgrade_to_head(url)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO jobs (public_id, share_token, owner_id, kind, state, engine,"
                     " options, progress, message, attempts, cancel_requested, content_path,"
                     " style_paths, visibility, created_at, updated_at) VALUES ('p','t','o',"
                     "'image','queued','microast','{}',0,'m',0,0,'c','[]','public',"
                     "'2026-01-01','2026-01-01')")
        conn.execute("CREATE TABLE scratch (x)")  # something a broken migration might drop

    def broken_upgrade(config, revision):  # type: ignore[no-untyped-def]
        with sqlite3.connect(path) as conn:
            conn.execute("DROP TABLE scratch")
            conn.execute("DELETE FROM jobs")
        raise RuntimeError("migration blew up half-way")

    monkeypatch.setattr(command, "upgrade", broken_upgrade)
    with pytest.raises(RuntimeError):
        upgrade_to_head(url)
    assert "scratch" in _tables(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM jobs").fetchone()[0] == 1
    assert not list(tmp_path.glob("*.pre-upgrade"))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_workers_table_comes_and_goes_with_revision_0003(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    from sqlalchemy import inspect

    url = (f"sqlite:///{tmp_path / 'db.sqlite'}" if backend == "sqlite"
           else request.getfixturevalue("postgres").new_database())
    config = alembic_config(url)
    engine = create_engine(url)

    def tables() -> set[str]:
        engine.dispose()
        return set(inspect(engine).get_table_names())

    command.upgrade(config, "head")
    assert {"jobs", "workers"} <= tables()
    command.downgrade(config, "0002")
    assert "jobs" in tables() and "workers" not in tables()
    command.upgrade(config, "head")
    assert "workers" in tables()
    engine.dispose()
