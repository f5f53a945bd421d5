"""Colour preservation (Gatys, Ecker, Bethge, Hertzmann, Shechtman, "Controlling Perceptual
Factors in Neural Style Transfer", CVPR 2017, Sec. 5).

Two methods from the paper:

- :func:`match_color` — colour histogram matching by a linear transform: the style image's
  pixels get the content image's mean and covariance (Sec. 5.2, Eq. 14 with the
  matrix square roots). Gatys uses it on the style before optimising.
- :func:`keep_content_chroma` — luminance-only transfer (Sec. 5.1): the result keeps its
  luma Y and takes the content's chroma (BT.601 YCbCr). Needs only the content frame, so
  feed-forward engines apply it after decoding while the style stays encoded once.
"""

from __future__ import annotations

import torch

_RGB_TO_YCBCR = torch.tensor([[0.299, 0.587, 0.114],
                              [-0.168736, -0.331264, 0.5],
                              [0.5, -0.418688, -0.081312]])


def rgb_to_ycbcr(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] to YCbCr (BT.601, full range, Cb/Cr centred on 0)."""
    return torch.einsum("ij,bjhw->bihw", _RGB_TO_YCBCR.to(rgb), rgb)


def ycbcr_to_rgb(ycc: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_ycbcr`."""
    return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(_RGB_TO_YCBCR).to(ycc), ycc)


def keep_content_chroma(stylised: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Luminance-only transfer: Y of ``stylised`` with Cb, Cr of ``content`` (same shape)."""
    y = rgb_to_ycbcr(stylised.float())[:, :1]
    chroma = rgb_to_ycbcr(content.float())[:, 1:]
    return ycbcr_to_rgb(torch.cat([y, chroma], dim=1)).clamp_(0.0, 1.0).to(stylised.dtype)


def _sqrtm(cov: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    """Symmetric (inverse) square root of a 3x3 covariance via its eigen-decomposition."""
    values, vectors = torch.linalg.eigh(cov)
    values = values.clamp_min(1e-8)
    power = -0.5 if inverse else 0.5
    return vectors @ torch.diag(values ** power) @ vectors.T


def match_color(source: torch.Tensor, target: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """``source`` ((1, 3, H, W) RGB in [0, 1]) with the pixel mean and covariance of
    ``target`` (any size): x' = C_t^{1/2} C_s^{-1/2} (x - mu_s) + mu_t, clamped to [0, 1]."""
    src = source.double().flatten(2)[0]                 # (3, N)
    tgt = target.double().flatten(2)[0]
    mu_s, mu_t = src.mean(1, keepdim=True), tgt.mean(1, keepdim=True)
    eye = torch.eye(3, dtype=torch.float64)
    cov_s = torch.cov(src) + eps * eye
    cov_t = torch.cov(tgt) + eps * eye
    transform = _sqrtm(cov_t) @ _sqrtm(cov_s, inverse=True)
    out = transform @ (src - mu_s) + mu_t
    return out.reshape(source.shape).clamp_(0.0, 1.0).to(source.dtype)
