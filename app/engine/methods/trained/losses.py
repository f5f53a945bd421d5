"""The perceptual loss a trained network learns from (Johnson et al. 2016, Sec. 3.2), on the
16x-pruned VGG-19 that ships with dreamgen: the feature reconstruction (content) loss on one
layer, the Gram-matrix style loss on several, and total variation. The same definitions as
Gatys' optimisation (:mod:`app.engine.methods.gatys.losses`): what the painterly engine
minimises for one photo, the network learns to minimise for every photo in one pass, so the
benchmark compares every engine by them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from app.engine.methods.gatys.losses import content_loss, gram_matrix, total_variation
from app.engine.networks.pruned_vgg import CONTENT_TAP, STYLE_TAPS, PrunedVGG

TAPS = (*STYLE_TAPS, CONTENT_TAP)


@dataclass(frozen=True)
class LossWeights:
    """How much each term counts (``tv`` per pixel, as Gatys' ``tv_weight``). On the pruned
    VGG a photo's own style loss against a painting is about 1 to 10 and a good
    stylisation's content loss about 1 to 4, so a style weight near 10 balances them."""

    content: float = 1.0
    style: float = 1.0
    tv: float = 1e-6


@dataclass
class LossTerms:
    """One evaluation: each weighted term and their sum (``total`` keeps the graph)."""

    total: torch.Tensor
    content: float
    style: float
    tv: float


def style_grams(vgg: PrunedVGG, style: torch.Tensor) -> dict[str, torch.Tensor]:
    """The Gram matrices (1, C, C) of a (1, 3, H, W) style image at every style layer."""
    with torch.no_grad():
        feats = vgg.encode(style, STYLE_TAPS)
    return {tap: gram_matrix(feats[tap]) for tap in STYLE_TAPS}


def gram_error(feats: dict[str, torch.Tensor], grams: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per sample, the mean over the style layers of the mean squared Gram error (Gatys et
    al. Eqs. 4-5 with w_l = 1/L): shape (B,)."""
    errors = [(gram_matrix(feats[tap]) - gram).pow(2).flatten(1).mean(dim=1)
              for tap, gram in grams.items()]
    return torch.stack(errors).mean(dim=0)


def perceptual_loss(vgg: PrunedVGG, output: torch.Tensor, content: torch.Tensor,
                    grams: dict[str, torch.Tensor], weights: LossWeights) -> LossTerms:
    """The loss of a batch of network ``output`` s for their ``content`` photos and one
    style's ``grams`` (or a batch of Grams (B, C, C), one style per sample)."""
    out_feats = vgg.encode(output, TAPS)
    with torch.no_grad():
        target = vgg.encode(content, (CONTENT_TAP,))[CONTENT_TAP]
    c = weights.content * content_loss(out_feats[CONTENT_TAP], target)
    s = weights.style * gram_error(out_feats, grams).mean()
    t = weights.tv * total_variation(output) / output.shape[0]
    return LossTerms(c + s + t, float(c.detach()), float(s.detach()), float(t.detach()))


def measured_losses(vgg: PrunedVGG, result: torch.Tensor, content: torch.Tensor,
                    style: torch.Tensor) -> tuple[float, float]:
    """(style loss, content loss) of one ``result`` (1, 3, H, W) against its ``content`` photo
    (resized to the result when they differ) and its ``style`` image, unweighted: the mean
    Gram error over the style layers and the relu4_2 feature error. What the benchmark
    compares engines by."""
    if content.shape[-2:] != result.shape[-2:]:
        content = F.interpolate(content, size=result.shape[-2:], mode="bilinear",
                                align_corners=False, antialias=True)
    with torch.no_grad():
        feats = vgg.encode(result, TAPS)
        target = vgg.encode(content, (CONTENT_TAP,))[CONTENT_TAP]
        style_loss = float(gram_error(feats, style_grams(vgg, style)).mean())
        return style_loss, float(content_loss(feats[CONTENT_TAP], target))
