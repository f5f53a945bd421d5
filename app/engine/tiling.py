"""Large images in overlapping tiles, blended without seams.

A feed-forward engine that does not fit in memory at full size runs tile by tile. Three
things keep the joins invisible:

1. **Overlap.** Neighbouring tiles share at least ``overlap`` pixels, so every output pixel
   near a tile's edge is also computed by a tile where it lies away from the edge (the
   networks' reflection padding only disturbs a tile's border).
2. **Global statistics.** AdaIN-style normalisation uses per-channel means and standard
   deviations of the *whole* image. Each tile adds the sums over the pixels it *owns* (the
   overlap is split at its middle, so the owned regions partition the image) to
   :class:`ChannelSums`; every tile is then normalised with the same global statistics.
3. **Smooth blending.** Each tile's output is weighted by a raised-cosine window that falls
   towards the edges it shares with a neighbour (and stays 1 at the image border); the canvas
   is divided by the summed weights (:func:`assemble`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Iterable

import torch

TILE_MULTIPLE = 8          # tile offsets and sizes: multiples of the engines' downscale factor
MIN_TILE = 64


@dataclass(frozen=True)
class Tile:
    """One tile: rows ``top:top+height``, columns ``left:left+width`` of the image, and the
    part of it this tile owns (for statistics), relative to the tile."""

    top: int
    left: int
    height: int
    width: int
    own_top: int
    own_bottom: int
    own_left: int
    own_right: int

    def crop(self, image: torch.Tensor) -> torch.Tensor:
        """This tile's pixels of a (B, C, H, W) tensor."""
        return image[..., self.top:self.top + self.height, self.left:self.left + self.width]

    def owned(self, feat: torch.Tensor, scale: int) -> torch.Tensor:
        """The owned part of this tile's features at 1/``scale`` resolution."""
        return feat[..., self.own_top // scale:self.own_bottom // scale,
                    self.own_left // scale:self.own_right // scale]


def axis_starts(length: int, tile: int, overlap: int, multiple: int = TILE_MULTIPLE) -> list[int]:
    """Offsets of tiles of size ``tile`` covering ``0..length``: the first at 0, the last
    ending at ``length``, evenly spread, multiples of ``multiple``, neighbours sharing at
    least ``overlap`` pixels. ``length`` and ``tile`` must be multiples of ``multiple``."""
    if length <= tile:
        return [0]
    if overlap >= tile:
        raise ValueError(f"overlap {overlap} must be smaller than the tile {tile}")
    count = math.ceil((length - tile) / (tile - overlap)) + 1
    while True:
        span = length - tile
        starts = [round(i * span / (count - 1) / multiple) * multiple for i in range(count)]
        if all(b - a <= tile - overlap for a, b in zip(starts, starts[1:])):
            return starts
        count += 1


def axis_tile_size(length: int, tile: int, overlap: int, multiple: int = TILE_MULTIPLE) -> int:
    """The tile length actually used along an axis: the fewest tiles of at most ``tile`` that
    cover ``length`` with ``overlap``, then shrunk (to a multiple of ``multiple``) so they
    share no more than needed. 1080 px with 1024 px tiles gives two tiles of 608, not two
    of 1024 that overlap almost completely."""
    if length <= tile:
        return length
    count = math.ceil((length - overlap) / (tile - overlap))
    size = math.ceil((length + (count - 1) * overlap) / count / multiple) * multiple
    return min(tile, size)


def owned_ranges(starts: list[int], tile: int, length: int,
                 multiple: int = TILE_MULTIPLE) -> list[tuple[int, int]]:
    """Split ``0..length`` among the tiles at ``starts``: each overlap is cut at its middle
    (rounded to ``multiple``), so the ranges partition the axis."""
    cuts = [0]
    for a, b in zip(starts, starts[1:]):
        middle = (b + a + tile) / 2                     # middle of the overlap b .. a + tile
        cuts.append(int(round(middle / multiple)) * multiple)
    cuts.append(length)
    return list(zip(cuts, cuts[1:]))


def tile_grid(height: int, width: int, tile: int, overlap: int,
              multiple: int = TILE_MULTIPLE) -> list[Tile]:
    """Tiles (row-major) covering a ``height`` x ``width`` image, sides multiples of
    ``multiple``: at most ``tile`` per side, sized by :func:`axis_tile_size`; a side that fits
    in one tile gets one tile of its full length."""
    if height % multiple or width % multiple or tile % multiple:
        raise ValueError(f"sides {width}x{height} and tile {tile} must be multiples of {multiple}")
    h, w = (axis_tile_size(height, tile, overlap, multiple),
            axis_tile_size(width, tile, overlap, multiple))
    rows, cols = axis_starts(height, h, overlap, multiple), axis_starts(width, w, overlap, multiple)
    row_owned = owned_ranges(rows, h, height, multiple)
    col_owned = owned_ranges(cols, w, width, multiple)
    return [Tile(top, left, h, w, oy0 - top, oy1 - top, ox0 - left, ox1 - left)
            for top, (oy0, oy1) in zip(rows, row_owned)
            for left, (ox0, ox1) in zip(cols, col_owned)]


def raised_cosine_ramp(length: int) -> torch.Tensor:
    """``length`` weights rising from near 0 to near 1: ``(1 - cos(pi (i + 0.5) / length)) / 2``
    (never exactly 0, so every pixel keeps some weight)."""
    i = torch.arange(length, dtype=torch.float32)
    return 0.5 - 0.5 * torch.cos(math.pi * (i + 0.5) / length)


def blend_window(tile: Tile, height: int, width: int, overlap: int) -> torch.Tensor:
    """(h, w) weights of ``tile``: a raised-cosine ramp of ``overlap`` pixels along each edge
    that has a neighbour (an edge inside the image), 1 elsewhere."""
    def axis(start: int, size: int, total: int) -> torch.Tensor:
        weights = torch.ones(size)
        ramp = raised_cosine_ramp(min(overlap, size // 2))
        if start > 0:
            weights[:len(ramp)] = ramp
        if start + size < total:
            weights[size - len(ramp):] = torch.minimum(weights[size - len(ramp):], ramp.flip(0))
        return weights

    return axis(tile.top, tile.height, height)[:, None] * axis(tile.left, tile.width, width)[None]


def assemble(pieces: Iterable[tuple[Tile, torch.Tensor]], shape: tuple[int, ...], overlap: int,
             device: torch.device | str = "cpu") -> torch.Tensor:
    """Blend (tile, output) pairs into one (B, C, H, W) float32 image of ``shape``: the
    window-weighted sum divided by the summed windows. ``pieces`` may be a generator, so only
    one tile's output needs to exist at a time."""
    batch, channels, height, width = shape
    canvas = torch.zeros(shape, dtype=torch.float32, device=device)
    total = torch.zeros((height, width), dtype=torch.float32, device=device)
    for tile, output in pieces:
        window = blend_window(tile, height, width, overlap).to(device)
        tile.crop(canvas).add_(output.to(device, torch.float32) * window)
        tile.crop(total).add_(window)
    return canvas.div_(total)


class ChannelSums:
    """Running per-sample, per-channel count, sum and sum of squares (float64) of feature
    maps, for the mean and standard deviation of a whole image assembled from tiles."""

    def __init__(self) -> None:
        self.count = 0
        self.total: torch.Tensor | None = None
        self.squares: torch.Tensor | None = None

    def add(self, feat: torch.Tensor) -> None:
        """Add a (B, C, h, w) block of features (the owned part of one tile)."""
        flat = feat.double().flatten(2)
        total, squares = flat.sum(2), flat.square().sum(2)
        self.count += flat.shape[2]
        self.total = total if self.total is None else self.total + total
        self.squares = squares if self.squares is None else self.squares + squares

    def mean_std(self, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C, 1, 1) float32 mean and ``sqrt(unbiased variance + eps)``, as the engines'
        ``calc_mean_std`` computes them on a whole image."""
        assert self.total is not None and self.squares is not None and self.count > 1
        mean = self.total / self.count
        var = (self.squares - self.count * mean.square()).clamp_min(0) / (self.count - 1)
        return (mean.float()[..., None, None], (var + eps).sqrt().float()[..., None, None])


def _free_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 4 * 2**30


def max_untiled_pixels(device: torch.device, bytes_per_pixel: float,
                       megapixels: float = 0.0) -> int:
    """Largest batch x height x width an engine runs in one piece: ``megapixels`` when given
    (> 0), else what half of the free memory holds at ``bytes_per_pixel`` (the engine's
    measured peak per pixel) — free GPU memory on CUDA, available RAM on the CPU."""
    if megapixels > 0:
        return int(megapixels * 1e6)
    return max(MIN_TILE * MIN_TILE, int(0.5 * _free_bytes(device) / bytes_per_pixel))


def tile_layout(max_pixels: int, tile_side: int = 0) -> tuple[int, int]:
    """(tile side, overlap): ``tile_side`` when given, else the largest square (multiple of 64,
    256..2048 px) within ``max_pixels``; the overlap is an eighth of the side, at least 32."""
    side = tile_side or max(256, min(2048, int(math.sqrt(max_pixels)) // 64 * 64))
    side = max(MIN_TILE, side // TILE_MULTIPLE * TILE_MULTIPLE)
    overlap = max(32, side // 8 // TILE_MULTIPLE * TILE_MULTIPLE)
    return side, min(overlap, side // 2)
