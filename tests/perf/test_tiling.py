"""The tiling maths (app/engine/tiling.py): grids cover the image with the asked overlap,
owned regions partition it, windows are smooth and positive, assembling is exact when the
tiles agree, and summed statistics equal the whole image's."""

from __future__ import annotations

import pytest
import torch

from app.engine.adain import calc_mean_std
from app.engine.tiling import (ChannelSums, assemble, axis_starts, axis_tile_size, blend_window,
                               owned_ranges, raised_cosine_ramp, tile_grid, tile_layout)


@pytest.mark.parametrize("length,tile,overlap", [(256, 128, 32), (1000, 256, 64), (2160, 1024, 128),
                                                 (136, 128, 32), (128, 128, 32), (64, 256, 32)])
def test_axis_starts_cover_with_overlap(length: int, tile: int, overlap: int) -> None:
    starts = axis_starts(length, tile, overlap)
    assert starts[0] == 0
    assert all(s % 8 == 0 for s in starts)
    assert min(length, starts[-1] + tile) == length             # the last tile ends at the edge
    assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))
    assert all(b > a for a, b in zip(starts, starts[1:]))


def test_owned_ranges_partition_the_axis() -> None:
    starts = axis_starts(1000, 256, 64)
    ranges = owned_ranges(starts, 256, 1000)
    assert ranges[0][0] == 0 and ranges[-1][1] == 1000
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    for start, (lo, hi) in zip(starts, ranges):
        assert start <= lo < hi <= start + 256 and lo % 8 == 0


def test_grid_owned_regions_cover_every_pixel_once() -> None:
    tiles = tile_grid(200, 328, 128, 32)
    count = torch.zeros(200, 328)
    for t in tiles:
        assert (t.height, t.width) == (120, 112)                  # 2 x 3 tiles, shrunk from 128
        count[t.top + t.own_top:t.top + t.own_bottom, t.left + t.own_left:t.left + t.own_right] += 1
    assert torch.equal(count, torch.ones(200, 328))


@pytest.mark.parametrize("length,tile,overlap,size", [(1080, 1024, 128, 608),
                                                     (1920, 1024, 128, 1024),
                                                     (3840, 1024, 128, 872), (500, 1024, 128, 500),
                                                     (2160, 1024, 128, 808)])
def test_axis_tile_size_avoids_needless_overlap(length, tile, overlap, size) -> None:
    assert axis_tile_size(length, tile, overlap) == size
    starts = axis_starts(length, size, overlap)
    assert all(b - a <= size - overlap for a, b in zip(starts, starts[1:]))


def test_grid_refuses_sides_off_the_multiple() -> None:
    with pytest.raises(ValueError):
        tile_grid(100, 128, 64, 16)


def test_raised_cosine_ramp_is_smooth_and_positive() -> None:
    ramp = raised_cosine_ramp(32)
    assert ramp.min() > 0 and ramp.max() < 1
    assert torch.all(ramp[1:] > ramp[:-1])
    assert torch.allclose(ramp + ramp.flip(0), torch.ones(32), atol=1e-6)  # partition of unity


def test_window_is_one_at_the_image_border_and_falls_inside() -> None:
    tiles = tile_grid(256, 256, 128, 32)
    window = blend_window(tiles[0], 256, 256, 32)                # top-left tile
    assert window[0, 0] == 1 and window[0, :tiles[0].width - 32].eq(1).all()  # image edge: 1
    assert window[0, -1] < 0.01 and window[-1, 0] < 0.01         # edges shared with neighbours
    middle = blend_window(tiles[4], 256, 256, 32)                # a tile with four neighbours
    assert middle.max() == 1 and middle[0].max() < 0.01 and middle[:, 0].max() < 0.01


def test_assemble_is_exact_when_tiles_agree() -> None:
    image = torch.rand(2, 3, 200, 264, generator=torch.Generator().manual_seed(0))
    tiles = tile_grid(200, 264, 96, 32)
    out = assemble(((t, t.crop(image)) for t in tiles), tuple(image.shape), 32)
    assert torch.allclose(out, image, atol=1e-6)


def test_channel_sums_equal_whole_image_statistics() -> None:
    feat = torch.randn(2, 5, 40, 48, generator=torch.Generator().manual_seed(1)) * 3 + 1
    tiles = tile_grid(320, 384, 128, 32)                         # image px; features at 1/8
    sums = ChannelSums()
    for t in tiles:
        sums.add(feat[..., (t.top + t.own_top) // 8:(t.top + t.own_bottom) // 8,
                      (t.left + t.own_left) // 8:(t.left + t.own_right) // 8])
    mean, std = sums.mean_std(1e-5)
    want_mean, want_std = calc_mean_std(feat)
    assert torch.allclose(mean, want_mean, atol=1e-5) and torch.allclose(std, want_std, atol=1e-5)


def test_tile_layout() -> None:
    assert tile_layout(4_000_000) == (1984, 248)
    assert tile_layout(10**9) == (2048, 256)
    assert tile_layout(100, 0) == (256, 32)
    assert tile_layout(0, 96) == (96, 32)
