"""The losses of Gatys, Ecker & Bethge, "Image Style Transfer Using Convolutional Neural
Networks" (CVPR 2016), plus a total-variation smoothness term."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from app.engine.masks import region_at


def gram_matrix(feat: torch.Tensor) -> torch.Tensor:
    """G_ij = sum_k F_ik F_jk over positions k (Eq. 3), divided by C*H*W so layers of
    different sizes weigh alike: (B, C, H, W) -> (B, C, C)."""
    b, c, h, w = feat.shape
    flat = feat.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def masked_gram_matrix(feat: torch.Tensor, region: torch.Tensor, power: int = 1
                       ) -> torch.Tensor:
    """The Gram matrix of a soft region only (masked style transfer, as in Johnson's
    neural-style; Gatys et al. 2017's spatial control): ``G_ij = sum_k m_k F_ik F_jk /
    (C * sum_k m_k)`` with ``m = region ** power``, ``region`` (1, 1, H', W') in [0, 1]
    scaled to the features' size, so it is comparable with a whole style image's
    :func:`gram_matrix`. ``power`` 2 counts a feature cell that is only partly inside (a
    region's edge, after scaling) less: what a clip's newly revealed strip uses."""
    b, c, h, w = feat.shape
    weight = region_at(region.to(feat.device, feat.dtype), (h, w)).pow(power).reshape(1, 1, h * w)
    flat = feat.reshape(b, c, h * w)
    return (flat * weight) @ flat.transpose(1, 2) / (c * weight.sum().clamp_min(1e-6))


def content_loss(feat: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error between feature maps (Eq. 1, as a mean rather than half a sum)."""
    return F.mse_loss(feat, target)


def style_loss(feats: dict[str, torch.Tensor], target_grams: dict[str, torch.Tensor],
               region: torch.Tensor | None = None, power: int = 1) -> torch.Tensor:
    """Mean over the style layers of the squared Gram-matrix error (Eqs. 4-5, w_l = 1/L);
    over a soft ``region`` only when one is given (:func:`masked_gram_matrix`)."""
    losses = [F.mse_loss(gram_matrix(feats[tap]) if region is None
                         else masked_gram_matrix(feats[tap], region, power), gram)
              for tap, gram in target_grams.items()]
    return torch.stack(losses).mean()


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Sum of squared differences between neighbouring pixels (so it grows with the pixel
    count: ``tv_weight`` is a per-pixel weight)."""
    dy = image[..., 1:, :] - image[..., :-1, :]
    dx = image[..., :, 1:] - image[..., :, :-1]
    return dy.pow(2).sum() + dx.pow(2).sum()


def temporal_loss(image: torch.Tensor, warped: torch.Tensor, weight: torch.Tensor
                  ) -> torch.Tensor:
    """Ruder, Dosovitskiy & Brox's short-term temporal loss (GCPR 2016, Eq. 7):

        L_temporal(x, w, c) = 1/D * sum_k c_k (x_k - w_k)^2

    over the D = 3 * H * W values of the image ``x``, with ``w`` the previous stylised frame
    warped to this one and ``c`` the per-pixel consistency weight (0 at disocclusions,
    motion boundaries and cuts), (..., 1, H, W), broadcast over the channels."""
    return (weight * (image - warped).pow(2)).mean()

