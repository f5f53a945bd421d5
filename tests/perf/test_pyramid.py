"""Gatys coarse-to-fine: the pyramid's stages and the split of the iterations."""

from __future__ import annotations

from app.engine.methods.gatys.optimise import _split, pyramid_sizes


def test_pyramid_halves_down_to_about_256_px() -> None:
    assert pyramid_sizes(2048, 1536, True) == [(256, 192), (512, 384), (1024, 768), (2048, 1536)]
    assert pyramid_sizes(512, 512, True) == [(256, 256), (512, 512)]
    assert pyramid_sizes(64, 64, True) == [(32, 32), (64, 64)]      # small images: one halving
    assert pyramid_sizes(48, 64, True) == [(48, 64)]                # too small to halve
    assert pyramid_sizes(2048, 2048, False) == [(2048, 2048)]


def test_iterations_split_evenly_and_exactly() -> None:
    assert _split(300, 4) == [75, 75, 75, 75]
    assert _split(10, 3) == [3, 3, 4]
    assert _split(7, 1) == [7]
    # cost of a 2048 px pyramid in final-scale iterations: 75 * (1 + 1/4 + 1/16 + 1/64)
    cost = sum(n * (h * w) / (2048 * 1536) for n, (h, w) in
               zip(_split(300, 4), pyramid_sizes(2048, 1536, True)))
    assert cost < 1.34 * 75
