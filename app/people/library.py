"""The curated-style service: the admin's paintings added to the style library, checked
like any upload (the admin page and ``dreamgen styles add`` share it)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from app.db.engine import begin_write
from app.people.styles import register_styles
from app.people.titles import clean_title
from app.settings import Settings
from app.storage import MediaStore
from app.uploads.storing import check_free_disk, store_uploads


def add_curated_style(session: Session, store: MediaStore, settings: Settings,
                      raw_path: Path, title: str) -> int:
    """Check an uploaded style like any other, then add it to the library as curated
    (returns its id; an image already there becomes curated and visible)."""
    check_free_disk(store, settings)
    stored = store_uploads(store, settings, [(raw_path, "style", "the style image")],
                           settings.max_output_side)
    made: list[str] = []
    try:
        begin_write(session)
        ids = register_styles(session, store, [stored[0].rel], made, curated=True,
                              title=clean_title(title))
        session.commit()
    except BaseException:
        session.rollback()
        store.remove(made)
        raise
    finally:
        store.remove([stored[0].rel])        # the library keeps its own copy
    return ids[0]
