"""A trained model on frames: the frame stylizer (pictures come through it too), and seamless
tiles for pictures larger than memory allows.

The model file is read through its checks (:func:`.model_file.load_network`) and cached per
(path, device); ``style_weights`` mix its styles (Dumoulin et al. Sec. 2.1: a convex mix of
the normalisation parameters paints a mix of the styles), all of them equally when none are
given. The network paints at full strength; a lower strength blends its painting with the
photo, which the instant strength preview (:mod:`.strength`) re-renders at once.

Tiles: every normalisation layer takes its statistics over the whole image, summed over the
pixels each tile owns (:class:`~app.engine.tiling.ChannelSums`), so each tile is computed as
in the whole image. The layers up to the residual blocks run at full, half and a quarter of
the resolution: their statistics come from passes that recompute them from the tile's
pixels; at a quarter of the resolution every tile's features are kept (a sixteenth of the
pixels), and the decoder's two statistics again come from passes per tile.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

import torch
import torch.nn.functional as F
from PIL import Image

from app.engine.errors import StyleTransferError
from app.engine.feedforward import FeedForwardStylizer, normalise_style_weights
from app.engine.methods.trained.model_file import ModelHeader, load_network, megabytes
from app.engine.methods.trained.network import (
    DOWNSCALE,
    EPS,
    ConditionalInstanceNorm,
    TransformerNet,
)
from app.engine.networks.cache import cached
from app.engine.options import StyleOptions
from app.engine.tiling import ChannelSums, Tile, assemble

# Peak memory per pixel of a batch in fp32: the widest full-resolution activations (width
# channels, twice around the 9x9 convolutions) of a width-32 network, rounded up.
BYTES_PER_PIXEL = 600
# Receptive field as a radius: 9x9 (4 px), two stride-2 3x3 (1 + 2), ten 3x3 in the
# residual blocks at 1/4 (40), the upsampling 3x3s at 1/2 and 1 (2 + 1), the last 9x9 (4):
# 54 px. Rounded up to the tile grid.
TILE_CONTEXT = 56
TILE_MULTIPLE = 8

Stats = tuple[torch.Tensor, torch.Tensor]


def model_network(path: Path, max_bytes: int, device: torch.device,
                  dtype: torch.dtype) -> tuple[ModelHeader, TransformerNet]:
    """The checked model at ``path`` on ``device`` in ``dtype``, cached (a worker keeps it
    warm between the frames of a clip and between jobs with the same file)."""
    stat = path.stat()

    def build() -> tuple[ModelHeader, TransformerNet]:
        header, net = load_network(path, max_bytes, device)
        return header, net.to(dtype).to(memory_format=torch.channels_last)

    return cached(("trained", str(path), stat.st_mtime_ns, stat.st_size, str(device),
                   str(dtype)), build)


def model_mix(style_weights: tuple[float, ...] | None, styles: int) -> torch.Tensor:
    """The weight of each of the model's ``styles`` (summing to 1)."""
    if style_weights is not None and len(style_weights) != styles:
        raise StyleTransferError(f"{len(style_weights)} style weights given for a model of "
                                 f"{styles} style{'s' if styles != 1 else ''}; give one per "
                                 "style of the model, or none")
    return torch.tensor(normalise_style_weights(style_weights, styles))


class TrainedStylizer(FeedForwardStylizer):
    """A trained model's network with its style mix; one pass per batch of frames."""

    BYTES_PER_PIXEL = BYTES_PER_PIXEL
    # the network needs multiples of 4; 8, the tile grid's, so a tiled picture is padded
    # as the whole one is and the two agree
    PAD_MULTIPLE = TILE_MULTIPLE

    def __init__(self, styles: list[Image.Image], options: StyleOptions,
                 weights: Mapping[str, Path]) -> None:
        if styles:
            raise StyleTransferError("a trained model paints its own styles; give no style "
                                     "images with it")
        if not options.model_path:
            raise StyleTransferError("choose a trained model to paint with")
        if not 0.0 <= options.alpha <= 1.0:
            raise StyleTransferError(f"style strength is {options.alpha}; use 0 to 1")
        self.model_path = Path(options.model_path)
        self.max_bytes = megabytes(options.max_model_mb)
        self.style_weights = options.style_weights
        self.setup(options, weights)

    def load_networks(self, weights: Mapping[str, Path]) -> None:
        self.header, self.net = model_network(self.model_path, self.max_bytes, self.device,
                                              self.dtype)
        self.mix = model_mix(self.style_weights, self.net.shape.styles).to(self.device)

    def forward_eager(self, x: torch.Tensor) -> torch.Tensor:
        painted = self.net(x, self.mix)
        if self.kept is not None:
            self.kept.update(content=x, painted=painted)
        return blend(painted, x, self.alpha)

    def stylize_tiled(self, frames: torch.Tensor, tile_side: int = 0) -> torch.Tensor:
        """:meth:`stylize_frames` tile by tile with whole-image statistics."""
        height, width = frames.shape[-2:]
        with torch.inference_mode():
            padded, tiles, overlap = self.padded_tiles(frames, TILE_CONTEXT, TILE_MULTIPLE,
                                                       tile_side)
            crops = [self._to_device(t.crop_with_context(padded)).to(self.dtype) for t in tiles]
            pieces = TiledPass(self.net, self.mix, tiles).run(crops)
            out = assemble(((tile, blend(piece.float(), tile.without_context(crop).float(),
                                         self.alpha))
                            for tile, piece, crop in zip(tiles, pieces, crops)),
                           tuple(padded.shape), overlap, self.device)
            out = out[..., :height, :width]
            return self._finish(out, frames.to(self.device, torch.float32))


def blend(painted: torch.Tensor, photo: torch.Tensor, alpha: float) -> torch.Tensor:
    """The painting at style strength ``alpha``: ``alpha * painted + (1 - alpha) * photo``."""
    if alpha >= 1.0:
        return painted
    return torch.lerp(photo.to(painted.dtype), painted, alpha)


def _biased(stats: tuple[torch.Tensor, torch.Tensor], count: int) -> Stats:
    """(mean, sqrt(biased variance + EPS)) from :meth:`ChannelSums.mean_std` with eps 0."""
    mean, std = stats
    var = std.square() * (count - 1) / count
    return mean, (var + EPS).sqrt()


class TiledPass:
    """The network over tiles with every normalisation layer's whole-image statistics."""

    def __init__(self, net: TransformerNet, mix: torch.Tensor, tiles: list[Tile]) -> None:
        self.net, self.mix, self.tiles = net, mix, tiles

    def _stats(self, feats: Iterable[torch.Tensor], scale: int) -> Stats:
        """Whole-image statistics of per-tile features at 1/``scale`` resolution (each tile
        adds the pixels it owns)."""
        sums = ChannelSums()
        for tile, feat in zip(self.tiles, feats):
            sums.add(tile.owned(feat, scale))
        return _biased(sums.mean_std(0.0), sums.count)

    def _norm(self, layer: ConditionalInstanceNorm, x: torch.Tensor, stats: Stats
              ) -> torch.Tensor:
        return layer(x, self.mix, (stats[0].to(x.device), stats[1].to(x.device)))

    def run(self, crops: list[torch.Tensor]) -> list[torch.Tensor]:
        """Each tile's painting (unblended, its context cut away)."""
        net = self.net
        s1 = self._stats((net.conv1(c) for c in crops), 1)

        def stage1(c: torch.Tensor) -> torch.Tensor:
            return F.relu(self._norm(net.norm1, net.conv1(c), s1))

        s2 = self._stats((net.conv2(stage1(c)) for c in crops), 2)

        def stage2(c: torch.Tensor) -> torch.Tensor:
            return F.relu(self._norm(net.norm2, net.conv2(stage1(c)), s2))

        feats = [net.conv3(stage2(c)) for c in crops]
        s3 = self._stats(feats, DOWNSCALE)
        feats = [F.relu(self._norm(net.norm3, f, s3)) for f in feats]
        for block in net.res:
            inner = [block.conv1(f) for f in feats]
            si = self._stats(inner, DOWNSCALE)
            inner = [block.conv2(F.relu(self._norm(block.norm1, f, si))) for f in inner]
            so = self._stats(inner, DOWNSCALE)
            feats = [f + self._norm(block.norm2, i, so) for f, i in zip(feats, inner)]
            del inner
        s4 = self._stats((net.up1(f) for f in feats), 2)

        def stage4(f: torch.Tensor) -> torch.Tensor:
            return F.relu(self._norm(net.norm4, net.up1(f), s4))

        s5 = self._stats((net.up2(stage4(f)) for f in feats), 1)
        out = []
        for tile, f in zip(self.tiles, feats):
            h = F.relu(self._norm(net.norm5, net.up2(stage4(f)), s5))
            out.append(tile.without_context(torch.sigmoid(net.out(h))))
        return out
