"""Training a fast model: Johnson et al.'s network learns to minimise the perceptual loss
over many photos (Sec. 3), one style per step for a network of several (Dumoulin et al.).

:class:`Trainer` holds the network, its optimiser (Adam, as both papers) and the style
targets; :meth:`Trainer.step` is one step on a batch of random crops whose randomness comes
from the step number alone, so a run resumed from a checkpoint (:mod:`.checkpoints`)
continues exactly as the uninterrupted run would have. Adding styles to a trained network
(:func:`extend_network`) trains only the new styles' normalisation parameters: the
convolutions are frozen, and the old styles' rows get no gradient.

:func:`train` runs the steps with progress (the step, the losses, every ``preview_every``
steps a preview of one fixed photo painted by the current network), a cancel check and a
checkpoint every ``checkpoint_every`` steps, handed to ``commit`` to be made durable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from PIL import Image

from app.engine.errors import Cancelled
from app.engine.images import tensor_to_pil
from app.engine.methods.trained.losses import (
    LossTerms,
    LossWeights,
    perceptual_loss,
    style_grams,
)
from app.engine.methods.trained.network import (
    DOWNSCALE,
    NetworkShape,
    TransformerNet,
    add_styles,
    conv_parameters,
    one_style,
)
from app.engine.methods.trained.photos import PhotoSet
from app.engine.methods.trained.train_options import TrainOptions
from app.engine.networks.pruned_vgg import PrunedVGG
from app.engine.types import CancelToken, Progress, ProgressCallback

LOSS_WINDOW = 20          # the losses shown are the mean of this many recent steps


def new_network(options: TrainOptions, styles: int, seed: int) -> TransformerNet:
    """A freshly initialised network of ``options``' shape (seeded: the same start again)."""
    torch.manual_seed(seed)
    return TransformerNet(NetworkShape(options.width, options.blocks, styles))


def extend_network(base: TransformerNet, count: int) -> TransformerNet:
    """``base`` with ``count`` new styles to be trained (the first new one is at index
    ``base.shape.styles``)."""
    return add_styles(base, count)


@dataclass
class LossHistory:
    """The losses of recent steps (for progress) and of the first and last windows (what
    the model's header records: the training made them fall, or it did not)."""

    recent: list[LossTerms] = field(default_factory=list)
    first: dict[str, float] = field(default_factory=dict)

    def add(self, terms: LossTerms) -> None:
        self.recent = (self.recent + [terms])[-LOSS_WINDOW:]
        if not self.first and len(self.recent) == LOSS_WINDOW:
            self.first = self.mean()

    def mean(self) -> dict[str, float]:
        count = max(1, len(self.recent))
        return {name: sum(getattr(t, name) for t in self.recent) / count
                for name in ("content", "style", "tv")}


class Trainer:
    """One training run's network, optimiser and targets.

    ``grams`` has one entry per style of ``net``; only the styles from ``first_trained`` on
    are trained (0: all of them, with the convolutions; more: those styles' normalisation
    parameters alone, the convolutions frozen)."""

    def __init__(self, net: TransformerNet, vgg: PrunedVGG, grams: list[dict[str, torch.Tensor]],
                 photos: PhotoSet, options: TrainOptions, first_trained: int = 0,
                 device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.net = net.to(self.device).train()
        self.vgg, self.grams, self.photos, self.options = vgg, grams, photos, options
        self.first_trained = first_trained
        self.weights = LossWeights(options.content_weight, options.style_weight,
                                   options.tv_weight)
        self.optimizer = torch.optim.Adam(self._trainable(), lr=options.learning_rate)
        self.history = LossHistory()

    def _trainable(self) -> list[torch.nn.Parameter]:
        if self.first_trained == 0:
            return list(self.net.parameters())
        for param in conv_parameters(self.net):
            param.requires_grad_(False)
        frozen_rows = self.first_trained
        params = [p for layer in self.net.norms() for p in (layer.gamma, layer.beta)]
        for param in params:      # the existing styles' rows stay as they are
            param.register_hook(lambda grad: torch.cat([torch.zeros_like(grad[:frozen_rows]),
                                                         grad[frozen_rows:]]))
        return params

    @property
    def trained_styles(self) -> range:
        return range(self.first_trained, self.net.shape.styles)

    def step(self, index: int) -> LossTerms:
        """Training step number ``index`` (from 0): its style is the trained styles in turn,
        its crops come from a generator seeded by ``(seed, index)``."""
        generator = torch.Generator().manual_seed(self.options.seed * 1_000_003 + index)
        styles = self.trained_styles
        style = styles[index % len(styles)]
        crops = self.photos.crops(self.options.batch, self.options.size, generator)
        crops = crops.to(self.device)
        output = self.net(crops, one_style(style, self.net.shape.styles).to(self.device))
        terms = perceptual_loss(self.vgg, output, crops, self.grams[style], self.weights)
        self.optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        self.optimizer.step()
        self.history.add(terms)
        return terms

    @torch.no_grad()
    def paint(self, photo: torch.Tensor, style: int) -> Image.Image:
        """``photo`` (1, 3, H, W; sides multiples of 4) painted in ``style`` by the network
        as it is now."""
        self.net.eval()
        try:
            out = self.net(photo.to(self.device), one_style(style, self.net.shape.styles)
                           .to(self.device))
        finally:
            self.net.train()
        return tensor_to_pil(out[0].cpu())


def targets(vgg: PrunedVGG, styles: list[torch.Tensor], device: torch.device | str
            ) -> list[dict[str, torch.Tensor]]:
    """The Gram targets of each style image (1, 3, H, W)."""
    return [style_grams(vgg, style.to(device)) for style in styles]


def preview_photo(photo: torch.Tensor, side: int) -> torch.Tensor:
    """(1, 3, H, W) with the longer side ``side`` and sides multiples of 4: the fixed photo
    every preview paints."""
    height, width = photo.shape[-2:]
    scale = side / max(height, width)
    size = (max(DOWNSCALE, round(height * scale / DOWNSCALE) * DOWNSCALE),
            max(DOWNSCALE, round(width * scale / DOWNSCALE) * DOWNSCALE))
    return torch.nn.functional.interpolate(photo[None] if photo.dim() == 3 else photo,
                                           size=size, mode="bilinear", align_corners=False,
                                           antialias=True).clamp(0, 1)


@dataclass
class Schedule:
    """When a run reports, previews and commits checkpoints."""

    steps: int
    checkpoint_every: int = 100
    preview_every: int = 200


def loss_words(losses: dict[str, float]) -> str:
    """The losses as the progress line shows them."""
    return (f"style {losses['style']:.3g} · content {losses['content']:.3g} · "
            f"smoothness {losses['tv']:.2g}")


def train(trainer: Trainer, start: int, schedule: Schedule, photo: torch.Tensor,
          commit: Callable[[int], None], on_progress: ProgressCallback | None = None,
          cancel: CancelToken | None = None) -> None:
    """Steps ``start`` .. ``schedule.steps - 1``; ``commit(step)`` after every
    ``checkpoint_every``-th step (it saves a checkpoint that resumes at ``step``), a
    progress report after each step and a preview of ``photo`` (the first trained style)
    every ``preview_every`` steps and at the end. Raises :class:`Cancelled` when ``cancel``
    is set (checked between steps)."""
    report = on_progress or (lambda progress: None)
    first = trainer.trained_styles[0]
    if start == 0:
        report(Progress(0.0, f"step 0 of {schedule.steps}", trainer.paint(photo, first)))
    for index in range(start, schedule.steps):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        trainer.step(index)
        done = index + 1
        losses = trainer.history.mean()
        preview = trainer.paint(photo, first) if (
            done % schedule.preview_every == 0 or done == schedule.steps) else None
        report(Progress(done / schedule.steps,
                        f"step {done} of {schedule.steps} · {loss_words(losses)}", preview,
                        {"step": float(done), **{f"{k}_loss": v for k, v in losses.items()}}))
        if done % schedule.checkpoint_every == 0 and done < schedule.steps:
            commit(done)
