"""The maths of Deep Dream: gradient ascent on the image, over octaves, with jitter and tiles.

Mordvintsev, Olah & Tyka, "Inceptionism: Going Deeper into Neural Networks" (Google Research
blog, 2015) and their ``deepdream`` notebook:

- **objective** — make a layer's activations grow: ``L(x) = 1/2 sum f(x)^2`` (the L2 objective),
  or, guided by a second image, ``L(x) = sum_i max_j <f_i(x), g_j>`` over unit-length
  vectors (each feature vector of the image turned towards its best-matching guide feature
  vector);
- **normalised steps** — ``x <- clip(x + eta * grad / mean|grad|, 0, 1)``, so the step size
  does not depend on the layer's scale;
- **jitter** — the image is rolled by a random shift before each step and rolled back after,
  which averages away the network's grid artefacts;
- **octaves** — the photo at several scales, coarsest first; what the dream added at one scale
  (the *detail*, dream minus photo) is upscaled onto the next, so large dream structures grow
  at coarse scales and fine ones at fine scales;
- **tiled gradients** (the TensorFlow tutorial's ``calc_grad_tiled``) — a large image's
  gradient is computed tile by tile, each tile with a margin of context, on a tile grid whose
  origin moves at random every step, so memory stays bounded and no tile border stays put
  long enough to leave a seam.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F

from app.engine.masks import region_at
from app.engine.methods.deepdream.networks import FeatureNet

BASE_STEP = 1.5 / 255    # the notebook's step of 1.5 grey levels; ``strength`` multiplies it
JITTER = 32              # largest random shift per step, in pixels of the current octave
TILE_MARGIN = 64         # context around each tile: enough that a tiled gradient is the whole one
GUIDE_VECTORS = 2048     # guide feature vectors kept per layer (evenly subsampled beyond)
MATCH_CHUNK = 4096       # image vectors matched against the guide at once (bounds memory)

StepHook = Callable[[int, int, int, torch.Tensor], None]   # (octave, step, steps, image)


# ----------------------------------------------------------------------------- objectives
def l2_objective(feat: torch.Tensor) -> torch.Tensor:
    """``1/2 sum f^2``: its gradient with respect to ``f`` is ``f`` itself, so every
    activation grows in proportion to how active it already is ("whatever you see, more
    of it")."""
    return 0.5 * feat.pow(2).sum()


def unit_vectors(vectors: torch.Tensor, soften: float = 0.0) -> torch.Tensor:
    """The columns of ``vectors`` (C, N) scaled to length 1; ``soften`` (a fraction of the
    mean length) keeps near-silent vectors short instead of blowing their gradient up."""
    norms = vectors.norm(dim=0, keepdim=True)
    floor = soften * norms.detach().mean() + 1e-12
    return vectors / (norms.square() + floor ** 2).sqrt()


def best_guide_matches(feat: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    """For each of ``feat``'s (1, C, H, W) feature vectors, the column of ``guide`` (C, M,
    unit length) it is most similar to (largest cosine); shape (H*W,). In chunks, without
    gradients."""
    vectors = feat.detach().flatten(2)[0].t()                     # (N, C)
    return torch.cat([(chunk @ guide).argmax(dim=1)
                      for chunk in vectors.split(MATCH_CHUNK)])


def guided_objective(feat: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    """``sum_i <f_i / |f_i|, g_best(i)>``: each image feature vector is turned towards the
    guide feature vector it already resembles most (the notebook's ``objective_guide``, with
    both vectors of unit length: with raw dot products the loudest channels, which every
    image shares, dominate, and on the pruned VGG-19 the guided gradient had cosine 0.9 with
    the unguided one and the result's Gram distance to the guide did not move)."""
    best = best_guide_matches(feat, guide)
    return (unit_vectors(feat.flatten(2)[0], soften=0.1) * guide[:, best]).sum()


def objective(features: dict[str, torch.Tensor],
              guide: dict[str, torch.Tensor] | None) -> torch.Tensor:
    """The dream objective summed over the dreaming layers: L2, or guided when ``guide``
    holds (C, M) guide features per layer."""
    terms = [l2_objective(f) if guide is None else guided_objective(f, guide[tap])
             for tap, f in features.items()]
    return torch.stack(terms).sum()


def guide_features(net: FeatureNet, guide: torch.Tensor, taps: tuple[str, ...]
                   ) -> dict[str, torch.Tensor]:
    """(C, M) unit-length feature vectors of the guide image per layer, at most
    :data:`GUIDE_VECTORS` (evenly strided beyond that, so the matching stays cheap)."""
    with torch.no_grad():
        feats = net.encode(guide, taps)
    out = {}
    for tap, feat in feats.items():
        vectors = feat.flatten(2)[0]
        stride = math.ceil(vectors.shape[1] / GUIDE_VECTORS)
        out[tap] = unit_vectors(vectors[:, ::stride]).contiguous()
    return out


# ----------------------------------------------------------------------------- gradients
def axis_tiles(length: int, tile: int, origin: int) -> list[tuple[int, int]]:
    """``[start, end)`` ranges of ``tile`` pixels covering ``0..length`` on a grid shifted by
    ``origin`` (0 <= origin < tile): the first and last ranges are cut by the border."""
    if length <= tile:
        return [(0, length)]
    cuts = sorted({0, length, *range(origin % tile, length, tile)})
    return list(zip(cuts, cuts[1:]))


def tile_gradient(net: FeatureNet, image: torch.Tensor, taps: tuple[str, ...],
                  guide: dict[str, torch.Tensor] | None, rows: tuple[int, int],
                  cols: tuple[int, int], margin: int, align: int) -> torch.Tensor:
    """The objective's gradient at the pixels ``rows`` x ``cols`` of ``image``, computed on
    that tile plus at least ``margin`` pixels of context on each side (clipped at the border).
    The context starts on a multiple of ``align`` (the network's total stride), so the tile's
    pooling grid is the whole image's and its inner activations are the whole image's."""
    height, width = image.shape[-2:]
    top = max(0, rows[0] - margin) // align * align
    left = max(0, cols[0] - margin) // align * align
    bottom, right = min(height, rows[1] + margin), min(width, cols[1] + margin)
    crop = image[..., top:bottom, left:right].detach().requires_grad_(True)
    with torch.enable_grad():
        value = objective(net.encode(crop, taps), guide)
        (grad,) = torch.autograd.grad(value, crop)
    return grad[..., rows[0] - top:rows[1] - top, cols[0] - left:cols[1] - left]


def tiled_gradient(net: FeatureNet, image: torch.Tensor, taps: tuple[str, ...],
                   guide: dict[str, torch.Tensor] | None, tile: int, align: int,
                   generator: torch.Generator) -> torch.Tensor:
    """The objective's gradient over the whole ``image``, tile by tile on a grid with a random
    origin (drawn from ``generator`` every call, so tile borders move every step). An image
    that fits in one tile is one pass, and the same random numbers are drawn either way."""
    height, width = image.shape[-2:]
    origin_y, origin_x = (int(v) for v in torch.randint(0, tile, (2,), generator=generator))
    grad = torch.empty_like(image)
    for rows in axis_tiles(height, tile, origin_y):
        for cols in axis_tiles(width, tile, origin_x):
            grad[..., rows[0]:rows[1], cols[0]:cols[1]] = tile_gradient(
                net, image, taps, guide, rows, cols, TILE_MARGIN, align)
    return grad


def normalised_step(image: torch.Tensor, grad: torch.Tensor, step: float) -> torch.Tensor:
    """``clip(x + step * grad / mean|grad|, 0, 1)``: a step of ``step`` per pixel on average,
    whatever the layer's scale; the clip keeps the pixels valid."""
    scale = step / grad.abs().mean().clamp_min(1e-12)
    return (image + grad * scale).clamp_(0.0, 1.0)


def random_shift(image: torch.Tensor, generator: torch.Generator) -> tuple[int, int]:
    """A random jitter ``(dy, dx)``, each within +-:data:`JITTER` and a quarter of the side."""
    limits = [max(0, min(JITTER, side // 4)) for side in image.shape[-2:]]
    return tuple(int(torch.randint(-lim, lim + 1, (1,), generator=generator))  # type: ignore
                 for lim in limits)


def ascent_step(net: FeatureNet, image: torch.Tensor, taps: tuple[str, ...],
                guide: dict[str, torch.Tensor] | None, step: float, tile: int, align: int,
                generator: torch.Generator) -> torch.Tensor:
    """One jittered, tiled, normalised gradient-ascent step on ``image``."""
    dy, dx = random_shift(image, generator)
    rolled = torch.roll(image, shifts=(dy, dx), dims=(-2, -1))
    grad = tiled_gradient(net, rolled, taps, guide, tile, align, generator)
    return torch.roll(normalised_step(rolled, grad, step), shifts=(-dy, -dx), dims=(-2, -1))


def masked_step(before: torch.Tensor, after: torch.Tensor, painted: torch.Tensor
                ) -> torch.Tensor:
    """``before + m * (after - before)``: a dream step kept where ``painted`` (m) is 1,
    undone where it is 0, softly in between."""
    return before + painted * (after - before)


# ----------------------------------------------------------------------------- octaves
def octave_sizes(height: int, width: int, octaves: int, scale: float,
                 min_side: int) -> list[tuple[int, int]]:
    """Sizes of the octaves, coarsest first, the last ``(height, width)``: each ``scale``
    times smaller than the next, as many as asked while both sides stay >= ``min_side``."""
    sizes = [(height, width)]
    for k in range(1, octaves):
        size = (round(height / scale ** k), round(width / scale ** k))
        if min(size) < min_side:
            break
        sizes.insert(0, size)
    return sizes


def resized(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``image`` at ``size``: bilinear, antialiased when shrinking."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    shrinking = size[0] < image.shape[-2]
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False,
                         antialias=shrinking)


@dataclass
class Dreamer:
    """Gradient ascent with octaves on one network's layers; ``guide`` (1, 3, H, W) in
    [0, 1] makes it a guided dream. Guide features are computed once per octave size."""

    net: FeatureNet
    taps: tuple[str, ...]
    octaves: int
    octave_scale: float
    step: float
    tile: int
    min_side: int
    align: int = 1
    guide: torch.Tensor | None = None
    _guides: dict[tuple[int, int], dict[str, torch.Tensor]] = field(
        default_factory=dict, init=False, repr=False)

    def guide_at(self, size: tuple[int, int]) -> dict[str, torch.Tensor] | None:
        """Guide features for an octave of ``size``: the guide scaled to the same longer side,
        so its features are of the same scale as the image's."""
        if self.guide is None:
            return None
        if size not in self._guides:
            ratio = max(size) / max(self.guide.shape[-2:])
            guide_size = tuple(max(self.min_side, round(s * ratio)) for s in self.guide.shape[-2:])
            self._guides[size] = guide_features(self.net, resized(self.guide, guide_size),
                                                self.taps)
        return self._guides[size]

    def sizes(self, height: int, width: int) -> list[tuple[int, int]]:
        return octave_sizes(height, width, self.octaves, self.octave_scale, self.min_side)

    def dream(self, photo: torch.Tensor, steps: int, generator: torch.Generator,
              on_step: StepHook | None = None, region: torch.Tensor | None = None
              ) -> torch.Tensor:
        """Dream ``photo`` ((1, 3, H, W) in [0, 1]) with ``steps`` steps per octave. The
        photo at each octave's size is the *base*; the detail dreamed so far is upscaled onto
        it. ``on_step(octave, step, steps, image)`` runs after every step (progress,
        previews, cancelling). A soft ``region`` ((1, 1, H, W) in [0, 1]) dreams only where
        it is painted: each step's change is scaled by it (:func:`masked_step`)."""
        sizes = self.sizes(*photo.shape[-2:])
        detail = torch.zeros_like(resized(photo, sizes[0]))
        image = photo
        for octave, size in enumerate(sizes):
            base = resized(photo, size)
            image = (base + resized(detail, size)).clamp_(0.0, 1.0)
            guide = self.guide_at(size)
            painted = None if region is None else region_at(region, size)
            for i in range(steps):
                stepped = ascent_step(self.net, image, self.taps, guide, self.step, self.tile,
                                      self.align, generator)
                image = stepped if painted is None else masked_step(image, stepped, painted)
                if on_step is not None:
                    on_step(octave, i + 1, steps, image)
            detail = image - base
        return image
