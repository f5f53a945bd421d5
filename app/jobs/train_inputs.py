"""What a training job learns from, settled by the worker thread when the job starts (the
engine child never reads the database): :func:`training_inputs`.

Photos: the admin's folder (``DREAMGEN_TRAIN_PHOTOS_DIR``) when there is one; else the
photos the job's owner uploaded (theirs alone: never another person's) plus the sample
photos that ship with dreamgen. "Train on this clip" learns from the clip's own frames
instead. Each start settles them again (a resumed run also sees photos uploaded meanwhile).
"""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.db.models import Job
from app.engine.methods.trained.photos import photos_in, sample_photos
from app.jobs.train_job import TrainingInputs
from app.settings import Settings
from app.storage import MediaStore

MAX_OWN_PHOTOS = 500       # the owner's newest uploads, at most


def own_photos(db_engine: Engine, store: MediaStore, owner_id: str) -> list[str]:
    """The photos ``owner_id`` uploaded for pictures (newest first), as absolute paths."""
    with Session(db_engine) as session:
        rels = session.scalars(
            select(Job.content_path).where(Job.owner_id == owner_id, Job.kind == "image",
                                           Job.deleted_at.is_(None), Job.hidden.is_(False))
            .order_by(Job.id.desc()).limit(MAX_OWN_PHOTOS)).all()
    paths = [store.path(rel) for rel in dict.fromkeys(rels)]
    return [str(p) for p in paths if p.is_file()]


def photo_paths(db_engine: Engine, store: MediaStore, settings: Settings, job: Job) -> list[str]:
    """The photos a training of ``job`` learns from (see the module's docstring)."""
    if settings.train_photos_dir is not None:
        return [str(p) for p in photos_in(settings.train_photos_dir)]
    return own_photos(db_engine, store, job.owner_id) + [str(p) for p in sample_photos()]


def training_inputs(db_engine: Engine, store: MediaStore, settings: Settings,
                    job: Job) -> TrainingInputs:
    """Everything the engine child needs to train (or resume) ``job``."""
    options = dict(job.options or {})
    on_clip = options.get("photos") == "clip"
    names = options.get("style_titles") or [f"Style {i + 1}" for i in range(len(job.style_paths))]
    return TrainingInputs(
        options=options, style_paths=tuple(job.style_paths), style_names=tuple(names),
        photos=() if on_clip else tuple(photo_paths(db_engine, store, settings, job)),
        clip=job.content_path if on_clip else None,
        preview_photo=None if on_clip else job.content_path,
        base_model=job.model_path, checkpoint=job.checkpoint_path,
        checkpoint_every=settings.train_checkpoint_steps,
        preview_every=settings.train_preview_steps, max_model_mb=settings.max_model_mb,
        max_megapixels=settings.max_image_megapixels,
        identity={"job": job.public_id, "options": options,
                  "styles": list(job.style_paths), "model": job.model_path})
