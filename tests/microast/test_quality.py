"""The quality measures on images whose answers are known."""

from __future__ import annotations

import pytest
import torch

from app.engine import quality


def noisy(x: torch.Tensor, amount: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (x + amount * torch.randn(x.shape, generator=g)).clamp(0, 1)


def test_histogram_distance_bounds(contents):
    photo = contents["coffee"]
    assert quality.color_histogram_distance(photo, photo) == 0.0
    red = torch.zeros(3, 20, 20)
    red[0] = 1.0
    blue = torch.zeros(3, 20, 20)
    blue[2] = 1.0
    assert quality.color_histogram_distance(red, blue) == pytest.approx(1.0)
    a, b = contents["coffee"], contents["chelsea"]
    assert quality.color_histogram_distance(a, b) == pytest.approx(
        quality.color_histogram_distance(b, a))


def test_histogram_ignores_layout_but_not_colour(contents):
    photo = contents["chelsea"]
    assert quality.color_histogram_distance(photo, photo.flip(-1)) == pytest.approx(0.0, abs=1e-9)
    assert quality.color_histogram_distance(photo, photo[:, [2, 1, 0]]) > 0.3


def test_ssim(contents):
    photo = contents["astronaut"]
    assert quality.ssim_luminance(photo, photo) == pytest.approx(1.0, abs=1e-5)
    slightly, very = noisy(photo, 0.02), noisy(photo, 0.2)
    assert 1.0 > quality.ssim_luminance(photo, slightly) > quality.ssim_luminance(photo, very)
    with pytest.raises(ValueError, match="differ in size"):
        quality.ssim_luminance(photo, photo[..., :64])


def test_edge_correlation_follows_edges_not_contrast(contents):
    photo = contents["rocket"]
    assert quality.edge_correlation(photo, photo) == pytest.approx(1.0, abs=1e-6)
    dimmer = photo * 0.5
    assert quality.edge_correlation(photo, dimmer) == pytest.approx(1.0, abs=1e-4)
    shifted = photo.roll(25, dims=-1)
    assert quality.edge_correlation(photo, shifted) < 0.5


def test_gram_matrix_is_normalised_by_size():
    feat = torch.ones(1, 2, 4, 4)
    torch.testing.assert_close(quality.gram_matrix(feat), torch.ones(1, 2, 2))
    big = torch.ones(1, 2, 8, 8)
    torch.testing.assert_close(quality.gram_matrix(big), torch.ones(1, 2, 2))


def test_gram_distance_is_symmetric_and_bounded(contents, pruned_vgg):
    a, b = contents["coffee"], contents["chelsea"]
    d_ab = quality.gram_distance(a, b, pruned_vgg)
    assert d_ab == pytest.approx(quality.gram_distance(b, a, pruned_vgg), rel=1e-5)
    assert 0.0 < d_ab <= 1.0
