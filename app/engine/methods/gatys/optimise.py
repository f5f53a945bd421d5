"""Neural style transfer by optimisation (Gatys, Ecker & Bethge, CVPR 2016).

The image itself is optimised so its VGG-19 features at relu4_2 match the content's and its
Gram matrices at relu1_1 .. relu5_1 match the style's (several styles: weighted sum of their
style losses). Options (:class:`~app.engine.options.StyleOptions`): ``content_weight``,
``style_weight``, ``tv_weight`` (per pixel, see :func:`~app.engine.methods.gatys.losses.total_variation`),
``iterations``, ``optimizer`` (``lbfgs`` with strong-Wolfe line search, or ``adam``),
``init`` (``content`` or seeded ``noise``), ``coarse_to_fine`` (an image pyramid: the
iterations split evenly over scales halving from the full size down to about
:data:`COARSEST_SIDE`, each stage upsampled into the next, so a large image costs about 4/3
of its final-scale iterations; see :func:`pyramid_sizes`), ``preserve_color`` (the style
images get the content's colour mean and covariance before their Grams are taken:
:func:`app.engine.color.match_color`, Gatys et al. 2017 Sec. 5.2), ``preview_every``.

Deep Style's own settings: ``alpha`` (style strength) sets the style term's weight on a log
scale, relative to the photo's own style loss (:func:`style_weight_for`; 0 is the photo
itself); ``style_scale`` scales the style image against the output before its Gram matrices
are taken (2: brush strokes twice as large); ``enhance`` paints at 1/2**k of the size first
and refines at each doubling, the coarse passes taking most of the iterations
(:func:`enhance_sizes`, :func:`_weighted_split`).

``feature_net="vgg19"`` uses the normalised VGG-19 (:mod:`app.engine.networks.vgg`),
``"cd16x"`` the 16x-pruned VGG-19 (:mod:`app.engine.networks.pruned_vgg`; same tap names).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Protocol

import torch
import torch.nn.functional as F
from PIL import Image

from app.engine.color import match_color
from app.engine.device import pick_device
from app.engine.errors import Cancelled, StyleTransferError
from app.engine.images import check_megapixels, pil_to_tensor, resize_to_fit, tensor_to_pil
from app.engine.masks import mask_tensor, region_at
from app.engine.methods.adain import VGG19
from app.engine.methods.gatys import PRUNED_VGG19
from app.engine.methods.gatys.losses import content_loss, gram_matrix, style_loss, total_variation
from app.engine.options import StyleOptions
from app.engine.types import CancelToken, Progress, ProgressCallback

STYLE_TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_TAP = "relu4_2"
ALL_TAPS = STYLE_TAPS + (CONTENT_TAP,)
MIN_SIDE = 32          # relu5_1 is at 1/16 resolution and needs 2 px for reflection padding
ADAM_LR = 0.02         # in [0, 1] pixel units
FEATURE_NETS = ("vgg19", "cd16x")
COARSEST_SIDE = 256    # coarse-to-fine: the pyramid's smallest stage is about this size
ENHANCE_MIN_SIDE = 192 # enhance: no pass smaller than this (longer side)
STRENGTH_DECADES = 4   # style strength 0..1 spans this many factors of ten of style weight
RANGE_WEIGHT = 100.0   # the out-of-range penalty against the larger loss term (see optimise_stage)
STYLE_SIDE_CAP = 2048  # style scale never makes a style larger than this (or the stage)


class FeatureNet(Protocol):
    def encode(self, x: torch.Tensor, taps: tuple[str, ...]) -> dict[str, torch.Tensor]: ...


@dataclass
class Targets:
    """What one resolution stage matches: content features and per-style Gram matrices."""

    content: torch.Tensor
    grams: list[dict[str, torch.Tensor]]
    style_mix: list[float]
    photo_style_loss: float = 1.0   # the content image's own (weighted) style loss
    # under a mask: each style's soft region (1, 1, H, W) at the stage's size (None: all)
    regions: list[torch.Tensor | None] | None = None


def load_feature_net(name: str, device: torch.device,
                     weights: Mapping[str, Path]) -> FeatureNet:
    """The frozen feature extractor called ``name``; ``weights`` gives its checkpoint path
    keyed by weight-file name (:data:`~app.engine.methods.adain.VGG19` or
    :data:`~app.engine.methods.gatys.PRUNED_VGG19`)."""
    if name == "vgg19":
        from app.engine.networks.vgg import load_vgg_encoder

        return load_vgg_encoder(_weight(weights, VGG19.name), device, torch.float32)
    if name == "cd16x":
        from app.engine.networks.pruned_vgg import load_pruned_encoders

        return load_pruned_encoders(device, _weight(weights, PRUNED_VGG19.name))
    raise StyleTransferError(f"unknown feature network {name!r}; choose vgg19 or cd16x")


def _weight(weights: Mapping[str, Path], name: str) -> Path:
    if name not in weights:
        raise StyleTransferError(f"no path given for the weight file {name!r}")
    return Path(weights[name])


def check_options(styles: list[Image.Image], options: StyleOptions) -> None:
    """Raise :class:`StyleTransferError` for what Gatys cannot run with (the options schema
    has already checked each value on its own)."""
    if not styles:
        raise StyleTransferError("give at least one style image")
    if options.max_side < MIN_SIDE:
        raise StyleTransferError(f"output size {options.max_side} is too small for Gatys; "
                                 f"use at least {MIN_SIDE}")


def compute_targets(net: FeatureNet, content: torch.Tensor, styles: list[torch.Tensor],
                    style_mix: list[float],
                    regions: list[torch.Tensor | None] | None = None) -> Targets:
    """Content features at relu4_2 and each style's Gram matrices, at ``content``'s size;
    under a mask each style is matched on its own soft region of ``regions``."""
    return targets_with(net, content, style_grams(net, styles), style_mix, regions)


def style_grams(net: FeatureNet, styles: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
    """Each style image's Gram matrices at the style layers (Eq. 3)."""
    with torch.no_grad():
        return [{tap: gram_matrix(f) for tap, f in net.encode(style, STYLE_TAPS).items()}
                for style in styles]


def targets_with(net: FeatureNet, content: torch.Tensor, grams: list[dict[str, torch.Tensor]],
                 style_mix: list[float],
                 regions: list[torch.Tensor | None] | None = None) -> Targets:
    """:class:`Targets` for ``content`` with the styles' Gram matrices already taken (each
    matched on its own soft region of ``regions`` under a mask)."""
    areas = regions or [None] * len(grams)
    with torch.no_grad():
        content_feats = net.encode(content, ALL_TAPS)
        photo = sum(w * style_loss(content_feats, g, r)
                    for w, g, r in zip(style_mix, grams, areas))
    return Targets(content_feats[CONTENT_TAP], grams, style_mix, float(photo), regions)


class StyleTargets:
    """The style side of a painting, for any number of pictures of one size (a clip's
    frames): each stage size's scaled style images and their Gram matrices, taken once (again
    for every picture when ``preserve_color`` gives the styles each picture's colours)."""

    def __init__(self, net: FeatureNet, styles: list[Image.Image], options: StyleOptions,
                 device: torch.device, region: torch.Tensor | None = None) -> None:
        from app.engine.feedforward import normalise_style_weights

        self.net, self.styles, self.options, self.device = net, styles, options, device
        self.region = region        # a brushed mask: the first style's soft region
        self.style_mix = normalise_style_weights(options.style_weights, len(styles))
        if region is not None:      # each style on its own region, each at full weight
            self.style_mix = [1.0] * len(styles)
        self._grams: dict[tuple[int, int], list[dict[str, torch.Tensor]]] = {}

    def for_content(self, content: torch.Tensor) -> Targets:
        """:class:`Targets` of ``content`` (1, 3, h, w), a stage of some picture."""
        size = tuple(content.shape[-2:])
        if size not in self._grams or self.options.preserve_color:
            side = style_side(max(size), self.options.style_scale)
            tensors = [_scaled_to(style, side).to(self.device) for style in self.styles]
            if self.options.preserve_color:
                tensors = [match_color(t, content) for t in tensors]
            self._grams[size] = style_grams(self.net, tensors)
        return targets_with(self.net, content, self._grams[size], self.style_mix,
                            _regions(self.region, size, len(self.styles), self.device))


def style_weight_for(alpha: float, style_weight: float, photo_style_loss: float) -> float:
    """The style term's weight for style strength ``alpha`` in [0, 1]:

        w(alpha) = style_weight * (10**(D*alpha) - 1) / (10**D - 1) / S0

    with D = :data:`STRENGTH_DECADES` and S0 the photo's own style loss against the style.
    Dividing by S0 makes the balance independent of the network and the pictures (the
    pruned and the full VGG-19 give style losses orders of magnitude apart); the log scale
    makes each 0.05 of the slider about 1.6x the weight, where a linear one would leave
    the top half of the slider saturated. ``alpha`` 0 gives 0: content only."""
    curve = (10.0 ** (STRENGTH_DECADES * alpha) - 1.0) / (10.0 ** STRENGTH_DECADES - 1.0)
    return style_weight * curve / max(photo_style_loss, 1e-12)


def losses(net: FeatureNet, image: torch.Tensor, targets: Targets
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """(content loss, weighted sum of the styles' losses) of ``image``."""
    return feature_losses(net.encode(image, ALL_TAPS), targets)


def feature_losses(feats: dict[str, torch.Tensor], targets: Targets
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """(content loss, weighted sum of the styles' losses) of an image's features ``feats``
    (every tap of :data:`ALL_TAPS`)."""
    c_loss = content_loss(feats[CONTENT_TAP], targets.content)
    areas = targets.regions or [None] * len(targets.grams)
    s_loss = sum(w * style_loss(feats, grams, region) for w, grams, region
                 in zip(targets.style_mix, targets.grams, areas))
    return c_loss, s_loss  # type: ignore[return-value]


def style_side(stage_side: int, style_scale: float) -> int:
    """The longer side the style image is scaled to for a stage whose longer side is
    ``stage_side``: ``style_scale`` times it, never above :data:`STYLE_SIDE_CAP` (or the
    stage itself, when larger), so a large output cannot ask for a huge style pass."""
    return min(round(stage_side * style_scale), max(stage_side, STYLE_SIDE_CAP))


def _scaled_to(image: Image.Image, side: int) -> torch.Tensor:
    """``image`` scaled so its longer side is ``side`` (up or down), as (1, 3, H, W)."""
    scale = side / max(image.size)
    size = (max(MIN_SIDE, round(image.width * scale)), max(MIN_SIDE, round(image.height * scale)))
    return pil_to_tensor(image.resize(size, Image.Resampling.LANCZOS)
                         if size != image.size else image)


def run_gatys(content: Image.Image, styles: list[Image.Image], options: StyleOptions,
              weights: Mapping[str, Path], on_progress: ProgressCallback | None = None,
              cancel: CancelToken | None = None, feature_net: str = "vgg19",
              mask: Image.Image | None = None, start: Image.Image | None = None
              ) -> Image.Image:
    """Optimise an image to ``content``'s content and ``styles``' style; return it as PIL.
    Under a ``mask`` (greyscale, the result's size, feathered: :mod:`app.engine.masked`)
    the first style is matched where it is painted and a second one (if any) on the rest,
    by masked Gram matrices. ``start`` (an Enhance: the earlier result) is where the first
    stage starts, scaled to it, instead of ``options.init``.

    Reports :class:`Progress` every iteration (``extras`` holds ``content_loss`` and
    ``style_loss``, unweighted) with a preview every ``options.preview_every`` iterations.
    Raises :class:`Cancelled` within one iteration of ``cancel`` being set. Deterministic for a
    fixed ``options.seed`` on the CPU.
    """
    check_options(styles, options)
    check_megapixels(content.width, content.height, "content image", options.max_megapixels)
    for style in styles:
        check_megapixels(style.width, style.height, "style image", options.max_megapixels)
    device = pick_device(options.device)
    net = load_feature_net(feature_net, device, weights)
    full = pil_to_tensor(resize_to_fit(content, options.max_side, 8)).to(device)
    if min(full.shape[-2:]) < MIN_SIDE:
        raise StyleTransferError(f"content image is {full.shape[-1]}x{full.shape[-2]} after "
                                 f"resizing; Gatys needs at least {MIN_SIDE} px per side")
    if options.alpha == 0.0:        # style strength 0: the photo itself, nothing to optimise
        if on_progress is not None:
            on_progress(Progress(1.0, "style strength 0: the photo as it is"))
        return tensor_to_pil(full.cpu())
    region = None if mask is None else mask_tensor(mask)
    image = paint_stages(net, full, StyleTargets(net, styles, options, device, region),
                         options, on_progress, cancel, start)
    return tensor_to_pil(image.detach().cpu())


def paint_stages(net: FeatureNet, full: torch.Tensor, style: StyleTargets,
                 options: StyleOptions, on_progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None, start: Image.Image | None = None
                 ) -> torch.Tensor:
    """Paint ``full`` (1, 3, H, W) from its start (``start`` scaled to the first stage when
    given, else the content or seeded noise, ``init``) through every stage of
    :func:`stage_plan`; returns the painting in [0, 1]."""
    generator = torch.Generator().manual_seed(0 if options.seed is None else options.seed)
    sizes, budgets = stage_plan(full.shape[-2], full.shape[-1], options)
    image: torch.Tensor | None = None
    done = 0
    # progress counts pixels x iterations, not iterations: the coarse stages take most of
    # the iterations but little of the time, and the time left is projected from progress
    costs = [h * w * budget for (h, w), budget in zip(sizes, budgets)]
    cost_done = 0
    for size, budget, cost in zip(sizes, budgets, costs):
        stage_content = F.interpolate(full, size=size, mode="area") if size != sizes[-1] else full
        targets = style.for_content(stage_content)
        if image is None and start is not None:
            image = resized_start(start, size).to(full.device)
        elif image is None:
            image = (stage_content.clone() if options.init == "content"
                     else torch.rand(stage_content.shape, generator=generator).to(full.device))
        else:
            image = F.interpolate(image, size=size, mode="bilinear", align_corners=False)
        share = (cost_done / sum(costs), cost / budget / sum(costs))
        image = optimise_stage(net, image, targets, options, budget, done, share, on_progress,
                               cancel)
        done += budget
        cost_done += cost
    assert image is not None
    return image


def stage_work(height: int, width: int, options: StyleOptions) -> float:
    """What :func:`paint_stages` costs for a (height, width) picture: iterations x pixels,
    summed over its stages."""
    sizes, budgets = stage_plan(height, width, options)
    return float(sum(h * w * budget for (h, w), budget in zip(sizes, budgets)))


def _regions(region: torch.Tensor | None, size: tuple[int, int], count: int,
             device: torch.device) -> list[torch.Tensor | None] | None:
    """The styles' soft regions at a stage's ``size``: the painted part, then the rest."""
    if region is None:
        return None
    painted = region_at(region.to(device), size)
    return [painted, 1.0 - painted][:count]


def resized_start(start: Image.Image, size: tuple[int, int]) -> torch.Tensor:
    """The start picture at a stage's ``size`` (height, width), Lanczos-scaled."""
    if start.size != (size[1], size[0]):
        start = start.convert("RGB").resize((size[1], size[0]), Image.Resampling.LANCZOS)
    return pil_to_tensor(start)


def stage_plan(height: int, width: int, options: StyleOptions
               ) -> tuple[list[tuple[int, int]], list[int]]:
    """The stage sizes, coarsest first, and each stage's iterations: ``enhance`` passes
    (coarse-heavy budgets), else the ``coarse_to_fine`` pyramid (equal budgets), else one
    stage at the full size."""
    if options.enhance > 0:
        sizes = enhance_sizes(height, width, options.enhance)
        return sizes, _weighted_split(options.iterations, len(sizes))
    sizes = pyramid_sizes(height, width, options.coarse_to_fine)
    return sizes, _split(options.iterations, len(sizes))


def enhance_sizes(height: int, width: int, passes: int) -> list[tuple[int, int]]:
    """Up to ``passes`` halvings below the full size, coarsest first, while the coarsest
    stage keeps a longer side of at least :data:`ENHANCE_MIN_SIDE` (below it relu4_2, the
    content layer, is too coarse to hold the picture's layout): 1024 px with 2 passes gives
    256, 512, 1024; 512 px gets one pass (256, 512) whatever is asked; 256 px none."""
    sizes = [(height, width)]
    while len(sizes) <= passes and max(sizes[0]) >= 2 * ENHANCE_MIN_SIDE \
            and min(sizes[0]) >= 2 * MIN_SIDE:
        sizes.insert(0, (sizes[0][0] // 2, sizes[0][1] // 2))
    return sizes


def _weighted_split(iterations: int, stages: int) -> list[int]:
    """Iterations per stage halving from the coarsest (4:2:1 for three stages), the rest to
    the finest. Each stage has 4x the pixels of the one before, so each costs about half
    the one after it, and three stages cost about a quarter of a run at the final size
    alone: the coarse passes settle the painting, the fine ones add detail."""
    weights = [2.0 ** (stages - 1 - i) for i in range(stages)]
    shares = [int(iterations * w / sum(weights)) for w in weights[:-1]]
    return shares + [iterations - sum(shares)]


def pyramid_sizes(height: int, width: int, coarse_to_fine: bool) -> list[tuple[int, int]]:
    """Stage sizes, coarsest first: the full size alone, or (coarse to fine) halvings while
    the half keeps at least :data:`MIN_SIDE` per side — once for any image, then further
    while the half's longer side stays at least :data:`COARSEST_SIDE`. 2048 px gives
    256, 512, 1024, 2048; 512 px gives 256, 512."""
    sizes = [(height, width)]
    while coarse_to_fine and min(sizes[0]) >= 2 * MIN_SIDE and (
            len(sizes) == 1 or max(sizes[0]) >= 2 * COARSEST_SIDE):
        sizes.insert(0, (sizes[0][0] // 2, sizes[0][1] // 2))
    return sizes


def _split(iterations: int, stages: int) -> list[int]:
    """Equal shares of the iterations per stage, the remainder to the last (finest)."""
    share = iterations // stages
    return [share] * (stages - 1) + [iterations - share * (stages - 1)]


class _BudgetSpent(Exception):
    """Raised by the closure once a stage has used its iterations (even mid line search)."""


def optimise_stage(net: FeatureNet, start: torch.Tensor, targets: Targets,
                   options: StyleOptions, budget: int, done: int, share: tuple[float, float],
                   on_progress: ProgressCallback | None, cancel: CancelToken | None,
                   extra: Callable[[torch.Tensor, dict[str, torch.Tensor], float],
                                   torch.Tensor] | None = None) -> torch.Tensor:
    """``budget`` iterations on ``start`` (``done`` came before); returns the best image seen.
    ``share``: the run's progress when the stage starts, and what each of its iterations adds.
    ``extra(image, feats, scale)``, when given, adds terms to the loss (a clip's temporal
    loss and the style loss of its newly seen region) from the image and its features
    (every tap of :data:`ALL_TAPS`); ``scale`` is the larger of the content and the style
    term at the start, so they can be weighed against them whatever the network.

    An iteration is one loss-and-gradient evaluation (as in Johnson's neural-style), so
    progress and cancellation are checked once per evaluation, also inside L-BFGS's strong-Wolfe
    line search, and the budget is exact."""
    image = start.detach().clone().requires_grad_(True)
    style_weight = style_weight_for(options.alpha, options.style_weight,
                                    targets.photo_style_loss)
    # As heavy as the larger of the two terms at the start, times RANGE_WEIGHT: without it
    # a strong style drives pixels far outside [0, 1] and the clamped picture saved is not
    # the one optimised (its style loss was 20x the optimised one's at 128 px).
    scale = max(options.content_weight, style_weight * targets.photo_style_loss)
    range_weight = RANGE_WEIGHT * scale
    if options.optimizer == "lbfgs":
        optimizer: torch.optim.Optimizer = torch.optim.LBFGS(
            [image], lr=1.0, max_iter=budget, max_eval=budget + 25, history_size=100,
            line_search_fn="strong_wolfe", tolerance_grad=-1.0, tolerance_change=-1.0)
    else:
        optimizer = torch.optim.Adam([image], lr=ADAM_LR)
    count, best, best_loss = 0, start.detach().clone(), float("inf")

    def closure() -> torch.Tensor:
        nonlocal count, best, best_loss
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        if count >= budget:
            raise _BudgetSpent()
        optimizer.zero_grad(set_to_none=True)
        feats = net.encode(image, ALL_TAPS)
        c_loss, s_loss = feature_losses(feats, targets)
        total = (options.content_weight * c_loss + style_weight * s_loss
                 + options.tv_weight * total_variation(image)
                 + range_weight * out_of_range(image))
        if extra is not None:
            total = total + extra(image, feats, scale)
        total.backward()
        image.grad = image.grad.contiguous()  # channels_last nets give strided grads; L-BFGS views
        count += 1
        value = total.item()                  # one device sync per evaluation, not two
        if value < best_loss:
            best, best_loss = image.detach().clone(), value
        if on_progress is not None:
            _report(on_progress, best, done + count, share[0] + count * share[1], options,
                    {"content_loss": c_loss.item(), "style_loss": s_loss.item()})
        return total

    try:
        while True:
            optimizer.step(closure)
            if options.optimizer == "adam":   # clamping inside L-BFGS breaks its curvature pairs
                with torch.no_grad():
                    image.clamp_(0.0, 1.0)
    except _BudgetSpent:
        pass
    return best.clamp(0.0, 1.0)


def out_of_range(image: torch.Tensor) -> torch.Tensor:
    """Mean squared distance of the pixels from [0, 1] (0 inside): a smooth penalty that
    keeps L-BFGS, which cannot clamp, inside the range an image can be saved in."""
    return (F.relu(image - 1.0).pow(2) + F.relu(-image).pow(2)).mean()


def _report(on_progress: ProgressCallback, image: torch.Tensor, i: int, fraction: float,
            options: StyleOptions, extras: dict[str, float]) -> None:
    every = options.preview_every
    preview = tensor_to_pil(image.detach().cpu()) if every > 0 and i % every == 0 else None
    on_progress(Progress(min(1.0, fraction), f"iteration {i} of {options.iterations}",
                         preview=preview, extras=extras))


def stylize_full(content: Image.Image, styles: list[Image.Image], options: StyleOptions,
                 weights: Mapping[str, Path], on_progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None, mask: Image.Image | None = None,
                 start: Image.Image | None = None) -> Image.Image:
    """The registry's ``gatys`` entry: Gatys on the normalised VGG-19."""
    return run_gatys(content, styles, options, weights, on_progress, cancel, "vgg19", mask,
                     start)


def stylize_lite(content: Image.Image, styles: list[Image.Image], options: StyleOptions,
                 weights: Mapping[str, Path], on_progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None, mask: Image.Image | None = None,
                 start: Image.Image | None = None) -> Image.Image:
    """The registry's ``gatys-lite`` entry: Gatys on the 16x-pruned VGG-19."""
    return run_gatys(content, styles, options, weights, on_progress, cancel, "cd16x", mask,
                     start)
