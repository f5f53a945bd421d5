"""A training job in the engine child: train a fast model and write it.

Everything arrives in :class:`TrainingInputs` (built by the worker from the job row:
:mod:`app.jobs.train_inputs`): the settings, the style images, the photos (or the clip whose
frames it learns from), the model it adds styles to, the checkpoint to resume from.
Every ``checkpoint_every`` steps a checkpoint is written durably under ``checkpoints/`` and
announced (:class:`~app.jobs.messages.CheckpointCommitted`); the worker records it in the
job row, so a run killed at any moment loses at most that many steps. The model is written
to the job's result path; the final painting of the fixed photo becomes its poster.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from app.engine.device import pick_device
from app.engine.errors import StyleTransferError
from app.engine.feedforward import prepare_style
from app.engine.images import load_image, pil_to_tensor
from app.engine.methods.trained import TRAINING_FILES
from app.engine.methods.trained.checkpoints import resume_step, save_checkpoint
from app.engine.methods.trained.model_file import (
    header_for,
    load_network,
    megabytes,
    model_bytes,
)
from app.engine.methods.trained.photos import PhotoSet, load_photos, photo_tensor
from app.engine.methods.trained.train_options import TrainOptions
from app.engine.methods.trained.training import (
    Schedule,
    Trainer,
    extend_network,
    new_network,
    preview_photo,
    targets,
    train,
)
from app.engine.networks.pruned_vgg import load_pruned_encoders
from app.engine.types import CancelToken, ProgressCallback
from app.engine.weights.store import WeightStore
from app.jobs.messages import CheckpointCommitted, JobResult, Send
from app.jobs.thumbnails import jpeg_bytes, write_thumbnail
from app.storage import MediaStore

log = logging.getLogger("dreamgen.worker")

CLIP_FRAMES = 64          # "train on this clip" learns from this many of its frames
POSTER_SIDE = 512         # the finished model's picture of the fixed photo
PREVIEW_SIDE = 256        # the pictures of it during training


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


def _photos(inputs: TrainingInputs, store: MediaStore, options: TrainOptions) -> PhotoSet:
    if inputs.clip:
        return PhotoSet(clip_frames(store.path(inputs.clip), CLIP_FRAMES, options.size))
    return PhotoSet(load_photos([Path(p) for p in inputs.photos], options.size,
                                inputs.max_megapixels))


def _fixed_photo(inputs: TrainingInputs, store: MediaStore, photos: PhotoSet) -> torch.Tensor:
    """The photo every preview paints: the one given with the job, else the first photo."""
    if inputs.preview_photo and not inputs.clip:
        return pil_to_tensor(load_image(store.path(inputs.preview_photo), "the preview photo",
                                        inputs.max_megapixels))[0]
    return photos.photos[0]


def _network(inputs: TrainingInputs, store: MediaStore, options: TrainOptions,
             device: torch.device) -> tuple[Any, int, list[str]]:
    """The network to train, the index of its first style to train, and its style names."""
    names = list(inputs.style_names)
    if not inputs.base_model:
        return new_network(options, len(names), options.seed), 0, names
    header, base = load_network(store.path(inputs.base_model), megabytes(inputs.max_model_mb))
    net = extend_network(base.float().train().requires_grad_(True), len(names))
    return net, base.shape.styles, header.style_names + names


def run_training(inputs: TrainingInputs, result: str, thumb: str, poster: str,
                 store: MediaStore, device_name: str, weights: WeightStore, send: Send,
                 report: ProgressCallback, cancel: CancelToken) -> JobResult:
    """Train (or resume), write the model to ``result``, its poster and thumbnail; raises
    :class:`StyleTransferError` for bad inputs and :class:`~app.engine.errors.Cancelled`."""
    options = TrainOptions.model_validate(inputs.options)
    device = pick_device(device_name)
    vgg = load_pruned_encoders(device, weights.resolve(TRAINING_FILES[0].name))
    styles = [prepare_style(load_image(store.path(rel), f"style image {i + 1}",
                                       inputs.max_megapixels), options.style_side, 16,
                            inputs.max_megapixels)
              for i, rel in enumerate(inputs.style_paths)]
    photos = _photos(inputs, store, options)
    net, first, names = _network(inputs, store, options, device)
    grams = [{}] * first + targets(vgg, styles, device)
    trainer = Trainer(net, vgg, grams, photos, options, first, device)
    start = _resume(trainer, inputs, store)

    def commit(step: int) -> None:
        rel = store.new_path("checkpoints", ".safetensors")
        store.write_atomic(rel, lambda temp: save_checkpoint(trainer, step, temp,
                                                             inputs.identity))
        send(CheckpointCommitted(rel, step))

    photo = preview_photo(_fixed_photo(inputs, store, photos), PREVIEW_SIDE)
    train(trainer, start, Schedule(options.steps, inputs.checkpoint_every,
                                   inputs.preview_every), photo, commit, report, cancel)
    header = header_for(trainer.net, names, _training_record(options, photos, start, trainer))
    store.write_atomic(result, model_bytes(trainer.net, header))
    painting = trainer.paint(preview_photo(_fixed_photo(inputs, store, photos), POSTER_SIDE),
                             first)
    store.write_atomic(poster, jpeg_bytes(painting, quality=90))
    write_thumbnail(store, painting, thumb)
    return JobResult(result, thumb, painting.width, painting.height, preview_path=poster)


def _resume(trainer: Trainer, inputs: TrainingInputs, store: MediaStore) -> int:
    """The step to start at: the checkpoint's, or 0 without one (or with one that cannot be
    used: the run then starts over, which costs time but never mixes two trainings)."""
    if not inputs.checkpoint:
        return 0
    try:
        step = resume_step(trainer, store.path(inputs.checkpoint), inputs.identity)
    except StyleTransferError as exc:
        log.warning("training: checkpoint %s not used (%s); starting over", inputs.checkpoint,
                    exc)
        return 0
    log.info("training: resuming at step %d from %s", step, inputs.checkpoint)
    return step


def _training_record(options: TrainOptions, photos: PhotoSet, start: int,
                     trainer: Trainer) -> dict[str, Any]:
    """How the model was trained, for its header (people read it; nothing depends on it)."""
    return {**options.stored(), "photo_count": len(photos), "resumed_at_step": start,
            "trained_styles": list(trainer.trained_styles),
            "first_losses": trainer.history.first, "last_losses": trainer.history.mean()}
