"""Deep Dream: a network's "dreams" grown out of a photo (Mordvintsev, Olah & Tyka,
"Inceptionism: Going Deeper into Neural Networks", Google Research blog, 2015).

The photo itself is changed by gradient *ascent* so that the activations of a chosen layer
grow; whatever the layer faintly sees in the photo — fur, eyes, arches, pagodas — it sees
more of after each step. The maths is in :mod:`app.engine.methods.deepdream.ascent`, the networks
and their layers in :mod:`app.engine.methods.deepdream.networks`. This module is the engine's front:

- :func:`dream_image` — the registry's ``deepdream`` entry: one picture, with progress,
  previews and cancelling, optionally guided by a second image;
- :class:`FrameDreamer` — the temporal method for clips: each frame starts from the previous
  dreamed frame (warped to it by optical flow, where the warp is reliable) and is dreamed
  for fewer steps, so the dream flows with the motion instead of flickering.

Options (:class:`~app.engine.options.StyleOptions`): ``depth`` (textures, patterns, shapes,
objects: shallow to deep layers), ``octaves``, ``octave_scale``, ``dream_iterations`` (steps
per octave), ``strength`` (step size; 1 is the notebook's 1.5 grey levels a step),
``network`` (auto, pruned-vgg19, vgg19, googlenet), ``seed`` (jitter and tile offsets),
``max_side``, ``preview_every``, ``tile_side`` (gradient tiles; 0 is :data:`DEFAULT_TILE`),
``device``. Deterministic for a fixed seed on the CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import torch
from PIL import Image

from app.engine.methods.deepdream.ascent import BASE_STEP, Dreamer, resized
from app.engine.methods.deepdream.networks import DreamNet, choose_network, load_feature_net
from app.engine.device import pick_device
from app.engine.errors import Cancelled, StyleTransferError
from app.engine.images import check_megapixels, pil_to_tensor, resize_to_fit, tensor_to_pil
from app.engine.masks import mask_tensor
from app.engine.options import StyleOptions
from app.engine.types import CancelToken, Progress, ProgressCallback

DEFAULT_TILE = 512        # gradient tiles: 512 px plus margins is ~1 GB at most on VGG-19
MIN_TILE = 64             # smaller tiles would cost far more in margins than they save
GUIDE_SIDE = 512          # a guide image is read at most this large
CARRY_STEPS = 0.3         # share of the steps a frame gets where the previous dream carries over
# How much of the warped previous dream a fully reliable pixel starts from. The rest is the
# new frame, which pulls the picture back towards the photo by about as much as the
# CARRY_STEPS steps dream it forward, so over a long clip the dream neither fades nor keeps
# intensifying (measured over 12 frames: see tests/engine/test_deepdream_video.py).
CARRY_WEIGHT = 1.0 - CARRY_STEPS


def load_dreamer(options: StyleOptions, weights: Mapping[str, Path],
                 guide: Image.Image | None = None) -> tuple[Dreamer, torch.device, DreamNet]:
    """The :class:`Dreamer` the options ask for, on their device, with ``guide`` (if any)."""
    device = pick_device(options.device)
    spec = choose_network(options.network, weights)
    net = load_feature_net(spec, weights, device)
    guide_tensor = None
    if guide is not None:
        check_megapixels(guide.width, guide.height, "guide image", options.max_megapixels)
        guide_tensor = pil_to_tensor(resize_to_fit(guide, GUIDE_SIDE, 1)).to(device)
    dreamer = Dreamer(net, spec.taps(options.depth), options.octaves, options.octave_scale,
                      BASE_STEP * options.strength,
                      max(MIN_TILE, options.tile_side or DEFAULT_TILE),
                      spec.min_side, spec.stride, guide_tensor)
    return dreamer, device, spec


def seeded(options: StyleOptions) -> torch.Generator:
    """The generator of the jitter and tile offsets (CPU, so results match across devices'
    random streams); seed 0 when none is given, so a dream is reproducible by default."""
    return torch.Generator().manual_seed(0 if options.seed is None else options.seed)


def dream_image(content: Image.Image, styles: list[Image.Image], options: StyleOptions,
                weights: Mapping[str, Path], on_progress: ProgressCallback | None = None,
                cancel: CancelToken | None = None, mask: Image.Image | None = None
                ) -> Image.Image:
    """Dream ``content``; ``styles`` holds at most one *guide* image to dream towards; under
    a ``mask`` (greyscale, the result's size, feathered) only where it is painted.

    Reports :class:`Progress` after every step ("octave 2 of 4 · step 7 of 10"), with a
    preview every ``options.preview_every`` steps and at the end of each octave; raises
    :class:`Cancelled` within one step of ``cancel`` being set."""
    if len(styles) > 1:
        raise StyleTransferError(f"Deep Dream takes at most one guide image, not {len(styles)}")
    check_megapixels(content.width, content.height, "content image", options.max_megapixels)
    dreamer, device, _ = load_dreamer(options, weights, styles[0] if styles else None)
    photo = pil_to_tensor(resize_to_fit(content, options.max_side, 8)).to(device)
    check_dreamable(photo, dreamer.min_side)
    sizes = dreamer.sizes(*photo.shape[-2:])
    steps = options.dream_iterations
    total = len(sizes) * steps

    def on_step(octave: int, step: int, steps: int, image: torch.Tensor) -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        if on_progress is None:
            return
        done = octave * steps + step
        every = options.preview_every
        preview = None
        if every > 0 and (done % every == 0 or step == steps):
            preview = tensor_to_pil(resized(image, sizes[-1]).cpu())
        on_progress(Progress(done / total, f"octave {octave + 1} of {len(sizes)} · step "
                             f"{step} of {steps}", preview=preview))

    if cancel is not None and cancel.is_set():
        raise Cancelled()
    with torch.no_grad():
        region = None if mask is None else mask_tensor(mask, device)
        result = dreamer.dream(photo, steps, seeded(options), on_step, region)
    return tensor_to_pil(result.cpu())


def check_dreamable(photo: torch.Tensor, min_side: int) -> None:
    """Refuse an image too small for the network's deepest layer."""
    height, width = photo.shape[-2:]
    if min(height, width) < min_side:
        raise StyleTransferError(f"content image is {width}x{height} after resizing; Deep "
                                 f"Dream needs at least {min_side} px per side")


class FrameDreamer:
    """Deep Dream for clips, frame after frame, carrying the dream along the motion.

    ``dream_frame(frame, previous, reliability)``: ``previous`` is the previous *dreamed*
    output already warped to this frame by optical flow, ``reliability`` (1, H, W) in 0..1
    says where that warp can be trusted (1: carry the dream over, 0: occluded or new). The
    frame starts from :func:`blend` of the two with weight ``CARRY_WEIGHT * reliability`` on
    the previous dream, and is dreamed for fewer steps where the dream carries over
    (:data:`CARRY_STEPS` of them when the whole frame is reliable, all of them when none
    is), so what was dreamed is refined, not re-invented. Every frame uses the same seed, so
    the jitter does not flicker either.
    """

    carries_previous = True     # a TemporalFrameEngine: the pipeline hands it the last dream

    def __init__(self, options: StyleOptions, weights: Mapping[str, Path],
                 guide: Image.Image | None = None) -> None:
        self.options = options
        self.dreamer, self.device, self.network = load_dreamer(options, weights, guide)

    def stylize_frame(self, frame: torch.Tensor, previous: torch.Tensor | None,
                      reliability: torch.Tensor | None) -> torch.Tensor:
        """The video pipeline's call (:class:`~app.engine.types.TemporalFrameEngine`)."""
        return self.dream_frame(frame, previous, reliability)[0]

    def steps_for(self, reliability: torch.Tensor | None) -> int:
        """Steps per octave for a frame: all without a previous dream, fewer the more of
        the frame the previous dream reliably covers."""
        full = self.options.dream_iterations
        if reliability is None:
            return full
        carried = float(reliability.float().mean().clamp(0.0, 1.0))
        return max(1, round(full * (1.0 - carried * (1.0 - CARRY_STEPS))))

    def dream_frame(self, frame: torch.Tensor, previous: torch.Tensor | None = None,
                    reliability: torch.Tensor | None = None) -> torch.Tensor:
        """Dream one (3, H, W) or (1, 3, H, W) frame in [0, 1]; returns (1, 3, H, W) on
        :attr:`device`. ``previous`` (same shape) and ``reliability`` ((1, H, W) or
        (H, W)) as in the class notes; ``reliability`` defaults to 1 everywhere."""
        start = _batched(frame).to(self.device)
        check_dreamable(start, self.dreamer.min_side)
        if previous is not None:
            previous = _batched(previous).to(self.device)
            if previous.shape != start.shape:
                raise StyleTransferError(f"previous frame is {tuple(previous.shape)}, the "
                                         f"frame {tuple(start.shape)}; warp it to the frame")
            if reliability is None:
                reliability = torch.ones(start.shape[-2:], device=self.device)
            weight = reliability.to(self.device, torch.float32).reshape(1, 1, *start.shape[-2:])
            start = blend(previous, start, CARRY_WEIGHT * weight.clamp(0.0, 1.0))
        steps = self.steps_for(reliability if previous is not None else None)
        with torch.no_grad():
            return self.dreamer.dream(start, steps, seeded(self.options))


def make_frame_dreamer(styles: list[Image.Image], options: StyleOptions,
                       weights: Mapping[str, Path]) -> FrameDreamer:
    """The registry's video entry: a :class:`FrameDreamer`, ``styles`` holding at most one
    guide image."""
    if len(styles) > 1:
        raise StyleTransferError(f"Deep Dream takes at most one guide image, not {len(styles)}")
    return FrameDreamer(options, weights, styles[0] if styles else None)


def blend(previous: torch.Tensor, frame: torch.Tensor, reliability: torch.Tensor
          ) -> torch.Tensor:
    """``r * previous + (1 - r) * frame``: the warped dream where it can be trusted, the new
    frame where it cannot."""
    return reliability * previous + (1.0 - reliability) * frame


def _batched(frame: torch.Tensor) -> torch.Tensor:
    frame = frame.float()
    if frame.dim() == 3:
        frame = frame.unsqueeze(0)
    if frame.dim() != 4 or frame.shape[:2] != (1, 3):
        raise StyleTransferError(f"expected one RGB frame (3, H, W), got {tuple(frame.shape)}")
    return frame
