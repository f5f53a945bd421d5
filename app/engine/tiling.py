"""Large images in overlapping tiles, blended without seams.

A feed-forward engine that does not fit in memory at full size runs tile by tile. Four
things keep the joins invisible:

1. **Context.** A convolution at a tile's edge sees reflection padding where the whole image
   has real pixels, and the error travels inwards as far as the networks' receptive field
   (AdaIN's encoder + decoder: 67 px, MicroAST's: 52 px; far more than the overlap). So each
   tile is computed on a larger crop, ``context`` pixels more on every side that has image
   there (:meth:`Tile.crop_with_context`), and the margin is cut away afterwards
   (:meth:`Tile.without_context`): every pixel that is kept was computed with all the
   pixels it depends on, exactly as in the whole image.
2. **Overlap.** Neighbouring tiles share at least ``overlap`` pixels, where their outputs are
   cross-faded (what is left to hide is float rounding, or fp16 on a GPU).
3. **Global statistics.** AdaIN-style normalisation uses per-channel means and standard
   deviations of the *whole* image. Each tile adds the sums over the pixels it *owns* (the
   overlap is split at its middle, so the owned regions partition the image) to
   :class:`ChannelSums`; every tile is then normalised with the same global statistics.
4. **Smooth blending.** Each tile's output is weighted by a raised-cosine window that falls
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
    """One tile: rows ``top:top+height``, columns ``left:left+width`` of the image, the part
    of it this tile owns (for statistics), relative to the tile, and the context margins
    taken around it (``context_*``: 0 at the image border, where there is nothing to take)."""

    top: int
    left: int
    height: int
    width: int
    own_top: int
    own_bottom: int
    own_left: int
    own_right: int
    context_top: int = 0
    context_bottom: int = 0
    context_left: int = 0
    context_right: int = 0

    def crop(self, image: torch.Tensor) -> torch.Tensor:
        """This tile's pixels of a (B, C, H, W) tensor."""
        return image[..., self.top:self.top + self.height, self.left:self.left + self.width]

    def crop_with_context(self, image: torch.Tensor) -> torch.Tensor:
        """This tile's pixels and its context margins: what the networks are run on."""
        return image[..., self.top - self.context_top:self.top + self.height + self.context_bottom,
                     self.left - self.context_left:self.left + self.width + self.context_right]

    def without_context(self, out: torch.Tensor, scale: int = 1) -> torch.Tensor:
        """The tile's own part of ``out``, computed from :meth:`crop_with_context`, at
        1/``scale`` resolution (the margins, computed without full context, cut away)."""
        top, left = self.context_top // scale, self.context_left // scale
        return out[..., top:top + self.height // scale, left:left + self.width // scale]

    def owned(self, feat: torch.Tensor, scale: int) -> torch.Tensor:
        """The owned part of features at 1/``scale`` resolution computed from
        :meth:`crop_with_context` (the tile itself when it has no context)."""
        top, left = self.context_top + self.own_top, self.context_left + self.own_left
        bottom, right = self.context_top + self.own_bottom, self.context_left + self.own_right
        return feat[..., top // scale:bottom // scale, left // scale:right // scale]


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
              multiple: int = TILE_MULTIPLE, context: int = 0) -> list[Tile]:
    """Tiles (row-major) covering a ``height`` x ``width`` image, sides multiples of
    ``multiple``: at most ``tile`` per side, sized by :func:`axis_tile_size`; a side that fits
    in one tile gets one tile of its full length. Each tile gets up to ``context`` pixels of
    context on every side (a multiple of ``multiple``, so feature grids stay aligned), as
    far as the image reaches."""
    if height % multiple or width % multiple or tile % multiple or context % multiple:
        raise ValueError(f"sides {width}x{height}, tile {tile} and context {context} must be "
                         f"multiples of {multiple}")
    h, w = (axis_tile_size(height, tile, overlap, multiple),
            axis_tile_size(width, tile, overlap, multiple))
    rows, cols = axis_starts(height, h, overlap, multiple), axis_starts(width, w, overlap, multiple)
    row_owned = owned_ranges(rows, h, height, multiple)
    col_owned = owned_ranges(cols, w, width, multiple)
    return [Tile(top, left, h, w, oy0 - top, oy1 - top, ox0 - left, ox1 - left,
                 min(context, top), min(context, height - top - h),
                 min(context, left), min(context, width - left - w))
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


def tile_layout(max_pixels: int, tile_side: int = 0, context: int = 0) -> tuple[int, int]:
    """(tile side, overlap): ``tile_side`` when given, else the largest square (multiple of 64,
    256..2048 px) that, with ``context`` pixels more on each side, fits in ``max_pixels``;
    the overlap is an eighth of the side, at least 32."""
    fitting = int(math.sqrt(max_pixels)) - 2 * context
    side = tile_side or max(256, min(2048, fitting // 64 * 64))
    side = max(MIN_TILE, side // TILE_MULTIPLE * TILE_MULTIPLE)
    overlap = max(32, side // 8 // TILE_MULTIPLE * TILE_MULTIPLE)
    return side, min(overlap, side // 2)
