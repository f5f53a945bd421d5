"""Measures of a stylised image that do not come from the stylising network itself.

- :func:`color_histogram_distance` — how different two images' colour distributions are;
- :func:`gram_distance` — how different their textures are, by Gram matrices of the
  16x-pruned VGG-19 features (Gatys et al. 2016's style representation);
- :func:`ssim_luminance` and :func:`edge_correlation` — how much of one image's structure
  survives in another;
- :func:`psnr` and :func:`high_frequency_energy` — how close an Enhance stays to the first
  picture, and how much finer detail it has.

Images are (3, H, W) or (1, 3, H, W) float tensors in [0, 1]; every function returns a float.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from app.engine.networks.pruned_vgg import PrunedVGG

GRAM_TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


def _batched(image: torch.Tensor) -> torch.Tensor:
    image = image.detach().float().cpu()
    if image.dim() == 3:
        image = image.unsqueeze(0)
    if image.dim() != 4 or image.shape[:2] != (1, 3):
        raise ValueError(f"expected one RGB image (3, H, W) or (1, 3, H, W), got {tuple(image.shape)}")
    return image


def luminance(image: torch.Tensor) -> torch.Tensor:
    """Luma Y (BT.601) of a (B, 3, H, W) tensor, shape (B, 1, H, W)."""
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=image.dtype, device=image.device)
    return (image * weights.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)


def color_histogram(image: torch.Tensor, bins: int = 8) -> torch.Tensor:
    """Joint RGB histogram with ``bins`` levels per channel, normalised to sum 1."""
    rgb = _batched(image)[0].clamp(0, 1).flatten(1)              # (3, N)
    idx = (rgb * bins).long().clamp_(max=bins - 1)
    flat = (idx[0] * bins + idx[1]) * bins + idx[2]
    hist = torch.bincount(flat, minlength=bins ** 3).double()
    return hist / hist.sum()


def color_histogram_distance(a: torch.Tensor, b: torch.Tensor, bins: int = 8) -> float:
    """Chi-square distance between joint RGB histograms, ``0.5 * sum((p - q)^2 / (p + q))``:
    0 for equal colour distributions, 1 for disjoint ones. Independent of image size."""
    p, q = color_histogram(a, bins), color_histogram(b, bins)
    total = p + q
    mask = total > 0
    return float(0.5 * ((p - q)[mask] ** 2 / total[mask]).sum())


def gram_matrix(feat: torch.Tensor) -> torch.Tensor:
    """Gram matrix ``F F^T / (H W)`` of (B, C, H, W) features, shape (B, C, C)."""
    b, c, h, w = feat.shape
    flat = feat.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (h * w)


def gram_distance(a: torch.Tensor, b: torch.Tensor, encoder: PrunedVGG,
                  taps: tuple[str, ...] = GRAM_TAPS) -> float:
    """Mean over ``taps`` of the relative Gram distance ``|G_a - G_b| / (|G_a| + |G_b|)``
    (Frobenius norms) in the pruned VGG-19's features: 0 for equal textures, at most 1.
    Images may differ in size (Gram matrices are normalised by the pixel count)."""
    device = next(encoder.parameters()).device
    with torch.inference_mode():
        fa = encoder.encode(_batched(a).to(device), taps)
        fb = encoder.encode(_batched(b).to(device), taps)
        total = 0.0
        for tap in taps:
            ga, gb = gram_matrix(fa[tap].float()), gram_matrix(fb[tap].float())
            total += float((ga - gb).norm() / (ga.norm() + gb.norm()).clamp_min(1e-12))
    return total / len(taps)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-coords ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).view(1, 1, size, size)


def ssim_luminance(a: torch.Tensor, b: torch.Tensor) -> float:
    """SSIM (Wang et al. 2004; 11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03, data
    range 1) of the two images' luma. 1 for identical images; same size required."""
    ya, yb = luminance(_batched(a)), luminance(_batched(b))
    if ya.shape != yb.shape:
        raise ValueError(f"images differ in size: {tuple(ya.shape)} vs {tuple(yb.shape)}")
    window = _gaussian_window()
    c1, c2 = 0.01 ** 2, 0.03 ** 2

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, window)

    mu_a, mu_b = blur(ya), blur(yb)
    var_a = blur(ya * ya) - mu_a ** 2
    var_b = blur(yb * yb) - mu_b ** 2
    cov = blur(ya * yb) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())


def sobel_magnitude(gray: torch.Tensor) -> torch.Tensor:
    """Gradient magnitude of (B, 1, H, W) images by the 3x3 Sobel operator (reflect pad)."""
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    kernels = torch.stack([kx, kx.t()]).unsqueeze(1).to(gray)
    grads = F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="reflect"), kernels)
    return grads.pow(2).sum(dim=1, keepdim=True).sqrt()


def edge_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of the Sobel edge magnitudes of the two images' luma: 1 when the
    edges are where they were (whatever their contrast), near 0 when unrelated."""
    ea = sobel_magnitude(luminance(_batched(a))).flatten()
    eb = sobel_magnitude(luminance(_batched(b))).flatten()
    if ea.shape != eb.shape:
        raise ValueError("images differ in size")
    ea, eb = ea - ea.mean(), eb - eb.mean()
    denom = (ea.norm() * eb.norm()).clamp_min(1e-12)
    return float((ea * eb).sum() / denom)


def difference_hash(image: torch.Tensor) -> int:
    """64-bit perceptual difference hash (dHash): the luma averaged down to 64x64 px, then to
    8 rows of 9, one bit per horizontal neighbour pair (left brighter than right). Similar
    images differ in few bits; compare with :func:`hamming_distance`."""
    gray = F.adaptive_avg_pool2d(luminance(_batched(image)), (64, 64))
    small = F.adaptive_avg_pool2d(gray, (8, 9))[0, 0]
    bits = (small[:, :-1] > small[:, 1:]).flatten().tolist()
    return sum(1 << i for i, bit in enumerate(bits) if bit)


def hamming_distance(a: int, b: int) -> int:
    """Number of differing bits between two hashes."""
    return bin(a ^ b).count("1")


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of two images of one size in [0, 1]:
    ``10 log10(1 / MSE)`` over all pixels and channels (inf for equal images)."""
    mse = float((_batched(a) - _batched(b)).square().mean())
    return float("inf") if mse == 0 else 10.0 * torch.log10(torch.tensor(1.0 / mse)).item()


def high_frequency_energy(image: torch.Tensor) -> float:
    """Fine detail: the mean squared 4-neighbour Laplacian of the luma (reflect padding),
    which a smooth upscale lowers and new fine structure raises."""
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)
    gray = F.pad(luminance(_batched(image)), (1, 1, 1, 1), mode="reflect")
    return float(F.conv2d(gray, kernel).square().mean())
