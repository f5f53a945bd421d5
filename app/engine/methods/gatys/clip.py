"""Painterly clips: Gatys et al.'s optimisation on every frame, kept steady the way Ruder,
Dosovitskiy & Brox do it ("Artistic style transfer for videos", GCPR 2016).

The video pipeline hands :class:`FramePainter` each frame with the previous *painted* frame
already warped to it along the optical flow, ``w``, and the consistency weight ``c`` of that
warp (Ruder et al.'s forward-backward check: 0 at disocclusions, motion boundaries and where
the flow leaves the frame; see :mod:`app.video.flow`), or nothing at a shot's first frame
(the clip's start, a scene cut, a resumed job's first frame being *not* one: it gets the
committed frame).

- **A shot's first frame** is a still: the same stages and iterations a picture gets
  (:func:`~app.engine.methods.gatys.optimise.paint_stages`).
- **Every later frame** starts from the previous painting, warped, with the new content
  filled from the frame itself (Sec. 3.1's warped initialisation):

      x_0 = c * w + (1 - c) * p

  and minimises the short-term loss (Eq. 8, one previous frame)

      L(x) = alpha * L_content(p, x) + beta * L_style(a, x) + gamma * L_temporal(x, w, c)

  with L_temporal of Eq. 7 (:func:`~app.engine.methods.gatys.losses.temporal_loss`) and
  gamma = :data:`TEMPORAL_WEIGHT` times the larger of the content and style terms at the
  start (our losses are means, not Ruder et al.'s sums, so the weight is relative), plus the
  style loss of the region the previous painting does not cover (:data:`NEW_STYLE_WEIGHT`).
  It gets only :func:`later_iterations` of the budget, at the full size only: it starts
  close to its answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

import torch
import torch.nn.functional as F
from PIL import Image

from app.engine.device import pick_device
from app.engine.errors import Cancelled, StyleTransferError
from app.engine.methods.gatys import later_iterations
from app.engine.methods.gatys.losses import style_loss, temporal_loss
from app.engine.methods.gatys.optimise import (MIN_SIDE, StyleTargets, check_options,
                                               load_feature_net, optimise_stage,
                                               paint_stages, stage_work, style_weight_for)
from app.engine.options import StyleOptions
from app.engine.types import CancelToken, Progress

# gamma / (the larger loss term at the start). Measured on the shared pan clip at 128 px,
# 60 iterations (python -m bench.video --only painterly, docs/video.md): 10 gave 0.26x of
# per-frame Gatys' temporal error at 1.04x its style loss; 30 0.27x at 1.40x, 1000 0.38x at
# 1.80x (the warped previous painting is a little blurred by resampling, and a strong pull
# towards it washes the style out); 0 (warm start alone) 0.31x at 96 px.
TEMPORAL_WEIGHT = 10.0

# The region the previous painting does not cover (c < 1: what a pan or a moving thing
# reveals), widened by NEW_MARGIN px so the deeper style layers see it with its
# surroundings, gets its own style loss (Gatys et al. 2017's spatial control), weighted
# NEW_STYLE_WEIGHT times the frame's: in the frame's style loss a strip a few pixels wide
# hardly counts, so a later frame's few iterations left it near the photo, and the temporal
# loss then kept it so (a pan grew a band of unpainted frame along its leading edge).
# Measured on the shared pan's first second, 128 px, 40 iterations (style loss of the
# frames' right 30 %, where the pan reveals): none 0.97; margin 16 px 0.21 (weight 3:
# 0.25); margin 32 px 0.11, with the lower temporal error and whole-frame style loss too.
NEW_MARGIN = 32
NEW_STYLE_WEIGHT = 1.0
NEW_SHARE = 1e-3        # ... once it covers this share of the frame

StepCallback = Callable[[int, int], None]


class FramePainter:
    """Gatys' optimisation for clip frames, each from the one before
    (:class:`~app.engine.types.TemporalFrameEngine` with ``wants_consistency``)."""

    carries_previous = True     # the pipeline hands it the previous painting, warped
    wants_consistency = True    # ... weighted by Ruder et al.'s forward-backward check

    def __init__(self, styles: list[Image.Image], options: StyleOptions,
                 weights: Mapping[str, Path], feature_net: str) -> None:
        check_options(styles, options)
        # previews come from the pipeline, one per frame: none from inside the optimisation
        self.options = options.model_copy(update={"preview_every": 0})
        self.device = pick_device(options.device)
        self.net = load_feature_net(feature_net, self.device, weights)
        self.style = StyleTargets(self.net, styles, self.options, self.device)
        self.later = later_iterations(options.iterations)
        self._on_step: StepCallback | None = None
        self._cancel: CancelToken | None = None

    def watch(self, on_step: StepCallback | None, cancel: CancelToken | None) -> None:
        """Report each iteration as ``on_step(done, of)``; stop soon after ``cancel``."""
        self._on_step, self._cancel = on_step, cancel

    def frame_work(self, shot_start: bool, height: int, width: int) -> float:
        """A frame's work in iterations x pixels: a still's stages for a shot's first frame,
        :func:`later_iterations` at the full size for the others."""
        if shot_start:
            return stage_work(height, width, self.options)
        return float(self.later * height * width)

    def stylize_frame(self, frame: torch.Tensor, previous: torch.Tensor | None,
                      weight: torch.Tensor | None) -> torch.Tensor:
        """Paint the (3, H, W) ``frame`` in [0, 1]; ``previous`` is the previous painting
        warped to it and ``weight`` (1, H, W) Ruder et al.'s c, or both None at a shot's
        first frame. Returns (3, H, W) on :attr:`device`."""
        content = frame.to(self.device, torch.float32).unsqueeze(0)
        if min(content.shape[-2:]) < MIN_SIDE:
            raise StyleTransferError(f"the frames are {content.shape[-1]}x{content.shape[-2]};"
                                     f" painting needs at least {MIN_SIDE} px per side")
        if self._cancel is not None and self._cancel.is_set():
            raise Cancelled()
        if self.options.alpha == 0.0:             # style strength 0: the frame as it is
            return content[0]
        if previous is None or weight is None:
            return paint_stages(self.net, content, self.style, self.options,
                                self._progress(self.options.iterations), self._cancel)[0]
        warped = previous.to(self.device, torch.float32).unsqueeze(0)
        c = weight.to(self.device, torch.float32).clamp(0.0, 1.0).unsqueeze(0)
        start = c * warped + (1.0 - c) * content
        targets = self.style.for_content(content)
        new = F.max_pool2d(1.0 - c, 2 * NEW_MARGIN + 1, stride=1, padding=NEW_MARGIN)
        style_weight = NEW_STYLE_WEIGHT * style_weight_for(
            self.options.alpha, self.options.style_weight, targets.photo_style_loss)
        paint_new = NEW_STYLE_WEIGHT > 0 and float(new.mean()) > NEW_SHARE

        def temporal(image: torch.Tensor, feats: dict[str, torch.Tensor],
                     scale: float) -> torch.Tensor:
            total = TEMPORAL_WEIGHT * scale * temporal_loss(image, warped, c)
            if paint_new:
                total = total + style_weight * sum(
                    w * style_loss(feats, grams, new, power=2)
                    for w, grams in zip(targets.style_mix, targets.grams))
            return total

        return optimise_stage(self.net, start, targets, self.options, self.later, 0,
                              (0.0, 1.0 / self.later), self._progress(self.later),
                              self._cancel, extra=temporal)[0]

    def _progress(self, steps: int) -> Callable[[Progress], None] | None:
        """The optimisation's progress as ``on_step(done, steps)``."""
        on_step = self._on_step
        if on_step is None:
            return None
        return lambda progress: on_step(round(progress.fraction * steps), steps)


def make_lite_painter(styles: list[Image.Image], options: StyleOptions,
                      weights: Mapping[str, Path]) -> FramePainter:
    """The registry's clip entry for ``gatys-lite``: on the 16x-pruned VGG-19."""
    return FramePainter(styles, options, weights, "cd16x")


def make_full_painter(styles: list[Image.Image], options: StyleOptions,
                      weights: Mapping[str, Path]) -> FramePainter:
    """The registry's clip entry for ``gatys``: on the normalised VGG-19."""
    return FramePainter(styles, options, weights, "vgg19")
