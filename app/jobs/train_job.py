"""A training job in the engine child: train a fast model and write it.

Everything arrives in :class:`TrainingInputs` (built by the worker from the job row:
:mod:`app.jobs.train_inputs`): the settings, the style images, the photos (or the clip whose
frames it learns from), the model it adds styles to, the checkpoint to resume from. The run
itself is :func:`app.engine.methods.trained.fit.fit`. Every ``checkpoint_every`` steps a
checkpoint is written durably under ``checkpoints/`` and announced
(:class:`~app.jobs.messages.CheckpointCommitted`); the worker records it in the job row, so
a run killed at any moment loses at most that many steps. The model is written to the job's
result path; the final painting of the fixed photo becomes its poster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from app.engine.errors import StyleTransferError
from app.engine.images import load_image, pil_to_tensor
from app.engine.methods.trained import TRAINING_FILES
from app.engine.methods.trained.fit import FitPlan, fit
from app.engine.methods.trained.model_file import megabytes
from app.engine.methods.trained.photos import PhotoSet, load_photos, photo_tensor
from app.engine.methods.trained.train_options import TrainOptions
from app.engine.types import CancelToken, ProgressCallback
from app.engine.weights.store import WeightStore
from app.jobs.messages import CheckpointCommitted, JobResult, Send
from app.jobs.thumbnails import jpeg_bytes, write_thumbnail
from app.storage import MediaStore

CLIP_FRAMES = 64          # "train on this clip" learns from this many of its frames


@dataclass(frozen=True)
class TrainingInputs:
    """What a training job's child needs besides the paths every job has. Media paths are
    relative to the media folder; ``photos`` are absolute (the admin's folder, the owner's
    uploads, the sample photos)."""

    options: dict[str, Any]
    style_paths: tuple[str, ...]
    style_names: tuple[str, ...]
    photos: tuple[str, ...] = ()
    clip: str | None = None              # learn from this clip's frames instead
    preview_photo: str | None = None     # the fixed photo the previews paint
    base_model: str | None = None        # add the styles to this model
    checkpoint: str | None = None        # resume from this checkpoint
    checkpoint_every: int = 100
    preview_every: int = 200
    max_model_mb: float = 64.0
    max_megapixels: float = 40.0
    identity: dict[str, Any] = field(default_factory=dict)


def clip_frames(path: Path, count: int, crop: int) -> list[torch.Tensor]:
    """``count`` frames spread evenly over the clip (each shrunk as a photo is): what "train
    on this clip" learns from. Frames are decoded one by one and only the chosen ones kept."""
    from app.video.probe import open_clip, video_stream

    container, _ = open_clip(path)
    with container:
        stream = video_stream(container)
        total = stream.frames or 0
        every = max(1, total // count) if total else 1
        frames = [photo_tensor(frame.to_image(), crop)
                  for index, frame in enumerate(container.decode(stream))
                  if index % every == 0 and index // every < count]
    if not frames:
        raise StyleTransferError("the clip has no frames to train on")
    return frames


def _plan(inputs: TrainingInputs, store: MediaStore) -> FitPlan:
    options = TrainOptions.model_validate(inputs.options)
    if inputs.clip:
        photos = PhotoSet(clip_frames(store.path(inputs.clip), CLIP_FRAMES, options.size))
    else:
        photos = PhotoSet(load_photos([Path(p) for p in inputs.photos], options.size,
                                      inputs.max_megapixels))
    photo = photos.photos[0]
    if inputs.preview_photo and not inputs.clip:
        photo = pil_to_tensor(load_image(store.path(inputs.preview_photo),
                                         "the preview photo", inputs.max_megapixels))[0]
    styles = [load_image(store.path(rel), f"style image {i + 1}", inputs.max_megapixels)
              for i, rel in enumerate(inputs.style_paths)]
    return FitPlan(options, styles, list(inputs.style_names), photos, photo,
                   base=store.path(inputs.base_model) if inputs.base_model else None,
                   checkpoint=store.path(inputs.checkpoint) if inputs.checkpoint else None,
                   identity=inputs.identity, checkpoint_every=inputs.checkpoint_every,
                   preview_every=inputs.preview_every,
                   max_model_bytes=megabytes(inputs.max_model_mb),
                   max_megapixels=inputs.max_megapixels)


def run_training(inputs: TrainingInputs, result: str, thumb: str, poster: str,
                 store: MediaStore, device: str, weights: WeightStore, send: Send,
                 report: ProgressCallback, cancel: CancelToken) -> JobResult:
    """Train (or resume), write the model to ``result``, its poster and thumbnail; raises
    :class:`StyleTransferError` for bad inputs and :class:`~app.engine.errors.Cancelled`."""
    def commit(step: int, write: Callable[[Path], None]) -> None:
        rel = store.new_path("checkpoints", ".safetensors")
        store.write_atomic(rel, write)
        send(CheckpointCommitted(rel, step))

    data, painting = fit(_plan(inputs, store), weights.resolve(TRAINING_FILES[0].name),
                         device, commit, report, cancel)
    store.write_atomic(result, data)
    store.write_atomic(poster, jpeg_bytes(painting, quality=90))
    write_thumbnail(store, painting, thumb)
    return JobResult(result, thumb, painting.width, painting.height, preview_path=poster)
