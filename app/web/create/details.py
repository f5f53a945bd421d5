"""What a person chooses about a job besides its options: a title, whether others may see the
original photo, and the original names of the files they uploaded (for download names).

The create form (:class:`~app.web.create.form.CreateForm`, page and API) may send ``title``
and ``show_original``; the names come from the uploads themselves. :func:`upload_details` gives the columns, which the job row is
queued with (:func:`app.web.create.submit.create_job`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from app.jobs.queue import get_job
from app.people.titles import clean_title
from app.web.create.form import CreateForm

NAME_MAX = 255


class DetailsIn(BaseModel):
    """``PATCH /api/jobs/{id}``: what the owner may change after the fact (fields left out
    stay as they are; a blank title means the default one)."""

    title: str | None = Field(None, max_length=1000)
    show_original: bool | None = None


def _file_name(upload: Any) -> str | None:
    name = getattr(upload, "filename", None)
    if not isinstance(name, str) or not name.strip():
        return None
    return "".join(ch for ch in name if ch.isprintable())[:NAME_MAX] or None


def original_names(session: Session, form: CreateForm) -> dict[str, Any]:
    """``content_name`` and ``style_names`` from the uploads (a reused style keeps the name
    it had)."""
    styles = [n for n in (_file_name(f) for f in form.styles) if n]
    if not styles and form.style_from:
        reused = get_job(session, form.style_from)
        styles = list(reused.style_names or []) if reused is not None else []
    return {"content_name": _file_name(form.content), "style_names": styles}


def upload_details(session: Session, form: CreateForm) -> dict[str, Any]:
    """The columns a new job gets from its form: the chosen title and privacy and the
    uploads' names."""
    return {"title": clean_title(form.title), "show_original": form.show_original,
            **original_names(session, form)}


def changed_details(body: DetailsIn) -> dict[str, Any]:
    """The columns a :class:`DetailsIn` changes. A title typed is the owner's
    word: it becomes public, even when it repeats the file's name (the form shows that name
    as a placeholder, never as a value, so saving without typing keeps it private)."""
    values: dict[str, Any] = {}
    if body.title is not None:
        values["title"] = clean_title(body.title)
    if body.show_original is not None:
        values["show_original"] = body.show_original
    return values

