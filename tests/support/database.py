"""A database migrated once per test session and copied for each test that needs one: the
migrations run for real (``tests/jobs/test_migrations.py`` walks them up and down), but not
again for each of the hundreds of apps the web tests build."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.db.engine import upgrade_to_head

DB_NAME = "dreamgen.db"


def migrated_template(folder: Path) -> Path:
    """A SQLite file at the newest migration, made in ``folder`` (once: reused after)."""
    path = folder / DB_NAME
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        upgrade_to_head(f"sqlite:///{path.as_posix()}")
    return path


def copy_template(template: Path, data_dir: Path) -> None:
    """The template as ``data_dir``'s database (the app then finds it at head)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, data_dir / DB_NAME)
