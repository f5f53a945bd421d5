"""Time on the database's clock, in SQL that SQLite and PostgreSQL both run.

Leases compare heartbeats with "now" where both come from one clock, the database's, so
worker machines whose clocks disagree still agree on whose lease ran out. Three expressions
are all that is needed, each compiled per dialect:

- :class:`db_now`: the database's now, to write (a heartbeat);
- :class:`seconds_ago` ``(s)``: the moment ``s`` seconds before the database's now, to compare
  a timestamp column with (``last_heartbeat < seconds_ago(60)``);
- :class:`seconds_between` ``(start, end)`` and :func:`seconds_since` ``(start)``: elapsed
  seconds as a float.

SQLite has no timestamp type: its ``CURRENT_TIMESTAMP`` is UTC text ``YYYY-MM-DD HH:MM:SS``
(whole seconds) and SQLAlchemy stores Python datetimes as UTC text ``YYYY-MM-DD
HH:MM:SS.ffffff``. Here SQLite's now is ``strftime('%Y-%m-%d %H:%M:%f', 'now')``, UTC text
with milliseconds in the same layout, so all three compare correctly as text, parse with
``julianday`` and read back as datetimes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import DateTime, Float, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

SECONDS_PER_DAY = 86400.0
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now'{modifier})"


class db_now(FunctionElement[Any]):  # noqa: N801 - reads as SQL
    """The database's current time (UTC), to the millisecond or better on both."""

    type = DateTime(timezone=True)
    inherit_cache = True
    name = "db_now"


class seconds_ago(FunctionElement[Any]):  # noqa: N801 - reads as SQL
    """The database's now minus ``seconds`` (a number or a bound expression)."""

    type = DateTime(timezone=True)
    inherit_cache = True
    name = "seconds_ago"

    def __init__(self, seconds: float | ColumnElement[Any]) -> None:
        if not isinstance(seconds, ColumnElement):
            seconds = literal(float(seconds), Float)
        super().__init__(seconds)


class seconds_between(FunctionElement[Any]):  # noqa: N801 - reads as SQL
    """Seconds from ``start`` to ``end`` (two timestamp expressions), as a float."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


def seconds_since(start: ColumnElement[Any]) -> seconds_between:
    """Seconds from ``start`` to the database's now."""
    return seconds_between(start, db_now())


def _args(element: FunctionElement[Any], compiler: Any, **kw: Any) -> list[str]:
    return [compiler.process(clause, **kw) for clause in element.clauses]


@compiles(db_now)
def _db_now_postgresql(element: db_now, compiler: Any, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"


@compiles(db_now, "sqlite")
def _db_now_sqlite(element: db_now, compiler: Any, **kw: Any) -> str:
    return SQLITE_NOW.format(modifier="")


@compiles(seconds_ago)
def _seconds_ago_postgresql(element: seconds_ago, compiler: Any, **kw: Any) -> str:
    (seconds,) = _args(element, compiler, **kw)
    return f"(CURRENT_TIMESTAMP - CAST({seconds} AS DOUBLE PRECISION) * INTERVAL '1 second')"


@compiles(seconds_ago, "sqlite")
def _seconds_ago_sqlite(element: seconds_ago, compiler: Any, **kw: Any) -> str:
    (seconds,) = _args(element, compiler, **kw)
    return SQLITE_NOW.format(modifier=f", '-' || ({seconds}) || ' seconds'")


@compiles(seconds_between)
def _seconds_between_postgresql(element: seconds_between, compiler: Any, **kw: Any) -> str:
    start, end = _args(element, compiler, **kw)
    return f"CAST(EXTRACT(EPOCH FROM ({end}) - ({start})) AS DOUBLE PRECISION)"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    start, end = _args(element, compiler, **kw)
    return f"((julianday({end}) - julianday({start})) * {SECONDS_PER_DAY})"
