"""Painting with a fast model from the create form: ``model_id`` (the owner's model, or one
shared in the style library) and ``model_style`` (which of its styles; blank: all of them
mixed equally). The job gets its own copy of the model file (``Job.model_path``), so
deleting the model later breaks nothing, and runs on the engine whose spec
``takes_model``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.db.models import FastModel
from app.engine.options import StyleOptions
from app.engine.registry import ENGINES
from app.engine.spec import EngineSpec
from app.people.copies import copy_media_file
from app.people.fast_models import (
    FOLDER,
    ModelUnavailable,
    owner_models,
    shared_models,
    visible_model,
)
from app.refusals import Refused
from app.storage import MediaStore


def painting_engine() -> EngineSpec:
    """The engine that paints with a trained model."""
    return next(spec for spec in ENGINES if spec.takes_model)


def engine_for(options: StyleOptions, model_id: str) -> StyleOptions:
    """``options`` as they run: with a fast model chosen (``model_id``), its engine paints,
    whatever quality the form shows (the job and its price both follow it)."""
    if not model_id.strip():
        return options
    return options.model_copy(update={"engine": painting_engine().name})


def usable_model(session: Session, model_id: str, owner_id: str) -> FastModel:
    """The model ``model_id`` if this visitor may paint with it (404 otherwise, 410 when
    the admin took it out of the library)."""
    try:
        return visible_model(session, model_id.strip(), owner_id)
    except ModelUnavailable as exc:
        raise Refused(str(exc), 410 if "admin" in str(exc) else 404) from None


def style_choice(model: FastModel, model_style: str) -> tuple[float, ...] | None:
    """The style weights that paint ``model_style`` (from 1) alone; None (all equally) when
    blank. Refuses a number the model has no style for."""
    text = model_style.strip()
    if not text:
        return None
    count = len(model.style_names)
    if not text.isdigit() or not 1 <= int(text) <= count:
        raise Refused(f"model_style must be a style of the model, 1 to {count}, not {text!r}")
    return tuple(1.0 if i == int(text) - 1 else 0.0 for i in range(count))


def use_model(session: Session, store: MediaStore, model_id: str, model_style: str,
              owner_id: str, options: StyleOptions) -> tuple[str, StyleOptions]:
    """The job's own copy of the chosen model (under ``models/``) and the options with its
    style choice; refuses style weights that are not one per style of the model."""
    model = usable_model(session, model_id, owner_id)
    weights = style_choice(model, model_style) or options.style_weights
    if weights is not None and len(weights) != len(model.style_names):
        count = len(model.style_names)
        raise Refused(f"{len(weights)} style weights given for a model of {count} "
                      f"style{'s' if count != 1 else ''}; give one per style, or none")
    return copy_media_file(store, model.path, FOLDER), \
        options.model_copy(update={"style_weights": weights})


def _style_cards(model: FastModel) -> list[dict[str, Any]]:
    thumbs = list(model.style_thumbs or [])
    return [{"index": i + 1, "name": name,
             "thumb": f"/models/{model.public_id}/styles/{i}" if i < len(thumbs) and thumbs[i]
             else None} for i, name in enumerate(model.style_names or [])]


def models_picker(session: Session, owner_id: str) -> list[dict[str, Any]]:
    """The fast models the create page offers: the visitor's own, then the library's."""
    mine = owner_models(session, owner_id)
    others = [m for m in shared_models(session) if m.owner_id != owner_id]
    return [{"id": m.public_id, "title": m.title, "mine": m.owner_id == owner_id,
             "styles": _style_cards(m)} for m in [*mine, *others] if not m.hidden]


def model_pick(session: Session, owner_id: str, model_id: str | None,
               model_style: str | None) -> dict[str, Any] | None:
    """The model (and style) the create page starts with (``?model=&model_style=``), when
    this visitor may paint with it."""
    if not model_id:
        return None
    try:
        model = visible_model(session, model_id, owner_id)
    except ModelUnavailable:
        return None
    styles = _style_cards(model)
    text = (model_style or "").strip()
    chosen = int(text) if text.isdigit() and 1 <= int(text) <= len(styles) else None
    return {"id": model.public_id, "title": model.title, "styles": styles,
            "style": chosen}
