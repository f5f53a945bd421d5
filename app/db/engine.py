"""Database engine, sessions and schema upgrades (SQLite by default, PostgreSQL works too)."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("dreamgen.db")

SQLITE_BUSY_TIMEOUT_MS = 30_000
POOL_TIMEOUT_S = 10.0


def is_sqlite(url: str) -> bool:
    """True for ``sqlite://`` URLs."""
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_file(url: str) -> Path | None:
    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


def make_db_engine(url: str, pool_size: int = 16) -> Engine:
    """A SQLAlchemy engine for ``url``. SQLite gets WAL, a busy timeout and foreign keys, and
    leaves transaction control to us so ``BEGIN IMMEDIATE`` can take the write lock up front.

    The pool holds ``pool_size`` connections and lends twice as many more under load; a request
    that still finds none waits at most :data:`POOL_TIMEOUT_S` and gets a 503, never a hang.
    """
    pool = {"pool_size": pool_size, "max_overflow": 2 * pool_size, "pool_timeout": POOL_TIMEOUT_S}
    if not is_sqlite(url):
        return create_engine(url, pool_pre_ping=True, **pool)
    path = _sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                           **pool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (handy for templates)."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    """Alembic configuration pointing at the package's migrations and ``url`` (no ini file
    needed, so an installed wheel upgrades its database like a checkout does)."""
    from alembic.config import Config

    from app.resources import package_folder

    config = Config()
    config.set_main_option("script_location", str(package_folder("migrations")))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def _copy_sqlite(source: Path, target: Path) -> None:
    """Consistent copy of a SQLite database, WAL contents included (sqlite3 backup API)."""
    import sqlite3

    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def upgrade_to_head(url: str) -> None:
    """Bring the schema to the newest migration. A SQLite file is copied aside first and
    restored if the upgrade fails, so a bad migration never leaves a half-upgraded database."""
    from alembic import command

    path = _sqlite_file(url) if is_sqlite(url) else None
    backup = None
    if path is not None and path.exists() and path.stat().st_size > 0:
        backup = path.with_name(path.name + ".pre-upgrade")
        _copy_sqlite(path, backup)
    try:
        command.upgrade(alembic_config(url), "head")
    except Exception:
        if backup is not None:
            log.error("schema upgrade failed; restoring %s from %s", path, backup)
            _copy_sqlite(backup, path)
        raise
    finally:
        if backup is not None:
            backup.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- writes
_IMMEDIATE = {"sqlite_begin": "IMMEDIATE"}
_WRITE_TRANSACTION = "dreamgen_write_transaction"   # session.info key (see begin_write)


def write_session(db_engine: Engine) -> Session:
    """A session whose transaction takes SQLite's write lock at BEGIN (no upgrade deadlocks):
    use it for every short write transaction."""
    session = Session(db_engine, expire_on_commit=False)
    begin_write(session)
    return session


def begin_write(session: Session) -> None:
    """Start a write transaction on a session that may have read already (a request's): end
    its read snapshot and take SQLite's write lock at BEGIN. In WAL mode a read transaction
    that tries to write after another connection committed fails at once with "database is
    locked" (SQLITE_BUSY_SNAPSHOT: the busy timeout does not apply), so every write through
    a request's session starts here. Call it before changing any loaded object; the objects
    loaded so far stay usable (the sessions keep them after commit). Idempotent: inside
    the write transaction it began, it does nothing."""
    current = session.get_transaction()
    if current is not None and session.info.get(_WRITE_TRANSACTION) is current:
        return
    if current is not None:
        session.commit()             # nothing pending: it only ends the read
    session.connection(execution_options=_IMMEDIATE)
    session.info[_WRITE_TRANSACTION] = session.get_transaction()
