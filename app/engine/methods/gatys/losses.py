"""The losses of Gatys, Ecker & Bethge, "Image Style Transfer Using Convolutional Neural
Networks" (CVPR 2016), plus a total-variation smoothness term."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gram_matrix(feat: torch.Tensor) -> torch.Tensor:
    """G_ij = sum_k F_ik F_jk over positions k (Eq. 3), divided by C*H*W so layers of
    different sizes weigh alike: (B, C, H, W) -> (B, C, C)."""
    b, c, h, w = feat.shape
    flat = feat.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def content_loss(feat: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error between feature maps (Eq. 1, as a mean rather than half a sum)."""
    return F.mse_loss(feat, target)


def style_loss(feats: dict[str, torch.Tensor], target_grams: dict[str, torch.Tensor]
               ) -> torch.Tensor:
    """Mean over the style layers of the squared Gram-matrix error (Eqs. 4-5, w_l = 1/L)."""
    losses = [F.mse_loss(gram_matrix(feats[tap]), gram) for tap, gram in target_grams.items()]
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


def masked_gram_matrix(feat: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The Gram matrix of the features under ``mask`` (1, 1, H, W) in [0, 1], resized to the
    features by area, divided by C times the mask's (squared) area: the Gram of that region
    alone, as :func:`gram_matrix` is of the whole (Gatys et al., "Controlling Perceptual
    Factors in Neural Style Transfer", CVPR 2017, Sec. 4: spatial control)."""
    b, c, h, w = feat.shape
    weight = F.interpolate(mask, size=(h, w), mode="area")
    flat = (feat * weight).reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * weight.pow(2).sum().clamp_min(1e-6))


def region_style_loss(feats: dict[str, torch.Tensor], target_grams: dict[str, torch.Tensor],
                      mask: torch.Tensor) -> torch.Tensor:
    """:func:`style_loss` of the region under ``mask`` alone."""
    losses = [F.mse_loss(masked_gram_matrix(feats[tap], mask), gram)
              for tap, gram in target_grams.items()]
    return torch.stack(losses).mean()
