"""Feature statistics, once for every engine: channel means and deviations, and adaptive
instance normalisation (Huang & Belongie, "Arbitrary Style Transfer in Real-time with
Adaptive Instance Normalization", ICCV 2017).

AdaIN (Eq. 8) gives content features x the channel-wise statistics of style features y:

    AdaIN(x, y) = sigma(y) * (x - mu(x)) / sigma(x) + mu(y)

with mu and sigma taken over the spatial positions of each sample and channel. AdaIN and
MicroAST both decode AdaIN'd features; the statistics are computed in float32 so that fp16
inference cannot overflow them.
"""

from __future__ import annotations

import torch

EPS = 1e-5   # added to the variance, as in training (both fast engines)

Stats = tuple[torch.Tensor, torch.Tensor]


def calc_mean_std(feat: torch.Tensor, eps: float = EPS) -> Stats:
    """Per-sample, per-channel mean and standard deviation (unbiased variance + ``eps``)
    over H, W of (B, C, H, W) features: two (B, C, 1, 1) float32 tensors."""
    flat = feat.float().flatten(2)
    var = flat.var(dim=2, unbiased=True) + eps
    return flat.mean(dim=2)[..., None, None], var.sqrt()[..., None, None]


def adain_with_stats(content_feat: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                     content_stats: Stats | None = None) -> torch.Tensor:
    """``content_feat`` normalised per channel, then given ``std`` and ``mean`` (Eq. 8), in
    its own dtype. ``content_stats`` replaces the content's own (mean, std), e.g. a whole
    image's for one tile of it."""
    c_mean, c_std = content_stats or calc_mean_std(content_feat)
    out = (content_feat.float() - c_mean) / c_std * std + mean
    return out.to(content_feat.dtype)


def adain(content_feat: torch.Tensor, style_feat: torch.Tensor) -> torch.Tensor:
    """Adaptive instance normalisation: align the content features' channel-wise mean and
    standard deviation with the style features' (Eq. 8)."""
    mean, std = calc_mean_std(style_feat)
    return adain_with_stats(content_feat, mean, std)


def mix_stats(stats: list[Stats], weights: list[float]) -> Stats:
    """Convex combination of style statistics (Sec. 7.2, style interpolation): with weights
    summing to 1, AdaIN with the mixed statistics equals the same mix of the single-style
    AdaIN outputs, because AdaIN is affine in the style statistics for a fixed content."""
    mean = sum(w * m for w, (m, _) in zip(weights, stats))
    std = sum(w * s for w, (_, s) in zip(weights, stats))
    return mean, std  # type: ignore[return-value]


def weighted_mean_std(feat: torch.Tensor, weight: torch.Tensor, eps: float = EPS) -> Stats:
    """Channel means and deviations of (B, C, H, W) features over the positions a (B, 1, H, W)
    ``weight`` in [0, 1] selects (a soft region): sum(w f) / sum(w) and the weighted variance
    (+ ``eps``), the statistics of masked style transfer. An all-zero weight falls back to
    the whole map's, so an unpainted region never divides by zero."""
    flat, w = feat.float().flatten(2), weight.float().flatten(2)
    total = w.sum(dim=2)
    if float(total.min()) < 1e-6:
        return calc_mean_std(feat, eps)
    mean = (flat * w).sum(dim=2) / total
    var = ((flat - mean[..., None]).square() * w).sum(dim=2) / total + eps
    return mean[..., None, None], var.sqrt()[..., None, None]


def masked_adain(content_feat: torch.Tensor, region: torch.Tensor, inside: Stats,
                 outside: Stats | None) -> torch.Tensor:
    """AdaIN per region of one feature map (masked style transfer): where ``region`` (B, 1,
    H, W, in [0, 1], at the features' size) is 1 the features get the ``inside`` style
    statistics, normalised by the content's own statistics over that region; elsewhere the
    ``outside`` ones over the rest (None: the content's own features are kept there). The
    two are blended by ``region``, so the decoder sees one feature map and no seam."""
    painted = adain_with_stats(content_feat, *inside, weighted_mean_std(content_feat, region))
    if outside is None:
        rest = content_feat
    else:
        rest = adain_with_stats(content_feat, *outside,
                                weighted_mean_std(content_feat, 1.0 - region))
    region = region.to(content_feat.dtype)
    return painted * region + rest * (1 - region)
