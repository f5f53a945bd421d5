"""One training run from start (or a checkpoint) to a model file: what a training job and
``dreamgen train`` share.

:func:`fit` builds the network (new, or an existing model with new styles), the style
targets and the :class:`~.training.Trainer`, resumes from the checkpoint when it belongs to
the same training, runs the steps, and returns the model file's bytes and the final
painting of the fixed photo. Where checkpoints go is the caller's: ``commit(step, write)``
gets a function that writes one to a given path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from PIL import Image

from app.engine.device import pick_device
from app.engine.errors import StyleTransferError
from app.engine.feedforward import prepare_style
from app.engine.methods.trained.checkpoints import resume_step, save_checkpoint
from app.engine.methods.trained.model_file import header_for, load_network, model_bytes
from app.engine.methods.trained.photos import PhotoSet
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

log = logging.getLogger("dreamgen.train")

PREVIEW_SIDE = 256        # the pictures of the fixed photo during training
POSTER_SIDE = 512         # the finished model's picture of it
MIN_STYLE_SIDE = 16

Commit = Callable[[int, Callable[[Path], None]], None]


@dataclass
class FitPlan:
    """What to train: the options, the new styles (images and names), the photos, the fixed
    photo (3, H, W) the previews paint, the model to add the styles to, the checkpoint to
    resume from and what it must belong to (``identity``)."""

    options: TrainOptions
    styles: list[Image.Image]
    names: list[str]
    photos: PhotoSet
    photo: torch.Tensor
    base: Path | None = None
    checkpoint: Path | None = None
    identity: dict[str, Any] = field(default_factory=dict)
    checkpoint_every: int = 100
    preview_every: int = 200
    max_model_bytes: int = 64 * 2**20
    max_megapixels: float = 40.0


def _network(plan: FitPlan) -> tuple[Any, int, list[str]]:
    """The network to train, the index of its first style to train, and all its names."""
    if plan.base is None:
        return new_network(plan.options, len(plan.names), plan.options.seed), 0, plan.names
    header, base = load_network(plan.base, plan.max_model_bytes)
    net = extend_network(base.float().train().requires_grad_(True), len(plan.names))
    return net, base.shape.styles, header.style_names + plan.names


def _resume(trainer: Trainer, plan: FitPlan) -> int:
    """The step to start at: the checkpoint's, or 0 without one (or with one that cannot be
    used: the run then starts over, which costs time but never mixes two trainings)."""
    if plan.checkpoint is None:
        return 0
    try:
        step = resume_step(trainer, plan.checkpoint, plan.identity)
    except StyleTransferError as exc:
        log.warning("training: checkpoint %s not used (%s); starting over", plan.checkpoint,
                    exc)
        return 0
    log.info("training: resuming at step %d from %s", step, plan.checkpoint)
    return step


def fit(plan: FitPlan, vgg_path: Path, device_name: str, commit: Commit,
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None) -> tuple[bytes, Image.Image]:
    """Train ``plan`` on ``device_name`` (the loss network's checkpoint at ``vgg_path``);
    returns the model file's bytes and the final painting of the fixed photo. Raises
    :class:`StyleTransferError` for bad inputs and
    :class:`~app.engine.errors.Cancelled` when ``cancel`` is set."""
    options, device = plan.options, pick_device(device_name)
    vgg = load_pruned_encoders(device, vgg_path)
    styles = [prepare_style(image, options.style_side, MIN_STYLE_SIDE, plan.max_megapixels)
              for image in plan.styles]
    net, first, names = _network(plan)
    grams = [{}] * first + targets(vgg, styles, device)
    trainer = Trainer(net, vgg, grams, plan.photos, options, first, device)
    start = _resume(trainer, plan)

    def checkpoint(step: int) -> None:
        commit(step, lambda path: save_checkpoint(trainer, step, path, plan.identity))

    train(trainer, start, Schedule(options.steps, plan.checkpoint_every, plan.preview_every),
          preview_photo(plan.photo, PREVIEW_SIDE), checkpoint, on_progress, cancel)
    record = {**options.stored(), "photo_count": len(plan.photos), "resumed_at_step": start,
              "trained_styles": list(trainer.trained_styles),
              "first_losses": trainer.history.first, "last_losses": trainer.history.mean()}
    data = model_bytes(trainer.net, header_for(trainer.net, names, record))
    return data, trainer.paint(preview_photo(plan.photo, POSTER_SIDE), first)
