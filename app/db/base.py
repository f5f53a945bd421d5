"""The declarative base every table derives from, and the clock rows are stamped with: kept
apart from the tables so the job tables (:mod:`app.db.models`) and the community's
(:mod:`app.db.community`) share them without importing each other."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.orm import DeclarativeBase


def utcnow() -> datetime:
    """Timezone-aware now in UTC (stored naive-UTC by SQLite, aware by PostgreSQL)."""
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    """Metadata root for Alembic's autogenerate."""
