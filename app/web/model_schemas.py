"""The JSON views of fast models (:class:`ModelOut`), for the models' router, the style
library and the pages."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.db.models import FastModel, Job, as_utc


class ModelStyleOut(BaseModel):
    name: str
    thumb: str | None
    use: str                       # the create page with this style of the model chosen


class ModelOut(BaseModel):
    """A fast model as the API shows it."""

    id: str
    title: str
    styles: list[ModelStyleOut]
    size_bytes: int
    shared: bool                   # listed in the style library
    hidden: bool                   # taken out of the library by the admin
    is_owner: bool
    created_at: datetime
    page: str
    file: str                      # the model file (safetensors), to export
    picture: str | None            # a photo it painted (none for an imported model yet)
    training: str | None           # the job that trained it (its owner alone)


def model_out(session: Session, model: FastModel, owner: str) -> ModelOut:
    base = f"/models/{model.public_id}"
    thumbs = list(model.style_thumbs or [])
    styles = [ModelStyleOut(name=name, thumb=f"{base}/styles/{i}" if i < len(thumbs)
                            and thumbs[i] else None,
                            use=f"/?model={model.public_id}&model_style={i + 1}")
              for i, name in enumerate(model.style_names or [])]
    training = None
    if model.owner_id == owner and model.job_id:
        row = session.get(Job, model.job_id)
        training = f"/jobs/{row.public_id}" if row is not None and row.deleted_at is None \
            else None
    return ModelOut(id=model.public_id, title=model.title, styles=styles,
                    size_bytes=model.size_bytes, shared=model.shared, hidden=model.hidden,
                    is_owner=model.owner_id == owner, created_at=as_utc(model.created_at),
                    page=base, file=f"{base}/file",
                    picture=f"{base}/picture" if model.preview_path else None,
                    training=training)
