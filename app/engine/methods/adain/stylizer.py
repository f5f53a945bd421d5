"""AdaIN: arbitrary style transfer in real time (Huang & Belongie, ICCV 2017).

The encoder f is the normalised VGG-19 up to relu4_1, the decoder g mirrors it
(:mod:`app.engine.networks.vgg`). For content c and style s:

    t = AdaIN(f(c), f(s)) = sigma(f(s)) * (f(c) - mu(f(c))) / sigma(f(c)) + mu(f(s))   (Eq. 8)
    T(c, s, alpha) = g((1 - alpha) * f(c) + alpha * t)                                  (Eq. 14)

Several styles (Sec. 7.2, style interpolation) decode the convex combination
sum_k w_k AdaIN(f(c), f(s_k)). AdaIN is affine in the style statistics for a fixed
content, so that equals AdaIN with the mixed statistics (sum w_k mu_k, sum w_k sigma_k):
:class:`AdaINStylizer` mixes the statistics once and reuses them for every frame.

Large images run in overlapping tiles (:mod:`app.engine.tiling`): each tile is computed
with :data:`TILE_CONTEXT` pixels of context around it (then cut away), and the content
statistics mu(f(c)), sigma(f(c)) are summed over the whole image first, so every tile is
computed as in the whole image and the blended tiles show no seams.

Preserve colours: luminance-only transfer after decoding
(:func:`app.engine.color.keep_content_chroma`): the stylised luma with the content frame's
chroma. It needs nothing from the style beyond its cached statistics, so it works frame by
frame for video.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import torch
from PIL import Image

from app.engine.errors import StyleTransferError
from app.engine.features import EPS, adain_with_stats, calc_mean_std, masked_adain, mix_stats
from app.engine.feedforward import FeedForwardStylizer, weight_paths
from app.engine.feedforward import prepare_style as prepare_image
from app.engine.images import STYLE_SIDE
from app.engine.masks import region_at
from app.engine.methods.adain import DECODER, VGG19
from app.engine.networks.vgg import load_adain_decoder, load_vgg_encoder
from app.engine.tiling import ChannelSums, assemble, tile_grid, tile_layout

MIN_SIDE = 16        # relu4_1 is at 1/8 resolution and needs 2 px for its reflection padding
DOWNSCALE = 8        # relu4_1 resolution
# Peak memory per pixel of a batch (encoder + decoder activations): 550 MB for 1024x1024 in
# fp32 on the CPU (``python -m bench --measure-once AdaIN:1024:1024:whole:cpu:DIR``), rounded
# up. Decides when a batch is tiled; halved for fp16.
BYTES_PER_PIXEL = 600
# Receptive field of decoder(encoder(x)) as a radius: relu4_1 sees 34 px each way (68 px
# field of VGG-19's conv4_1), the decoder adds one conv at 1/8 (8 px), four at 1/4, two at
# 1/2 and two at full size plus its nearest upsamplings; an impulse moves outputs up to
# 67 px away (tests/perf/test_tiling.py). Rounded up to the 1/8 grid.
TILE_CONTEXT = 72
WEIGHTS = {"encoder": VGG19, "decoder": DECODER}


def trade_off(content_feat: torch.Tensor, target: torch.Tensor, alpha: float) -> torch.Tensor:
    """Content-style trade-off at the feature level (Eq. 14):
    ``alpha * t + (1 - alpha) * f(c)``."""
    if alpha >= 1.0:
        return target
    return alpha * target + (1.0 - alpha) * content_feat


def prepare_style(image: Image.Image, side: int = STYLE_SIDE,
                  max_megapixels: float = 40.0) -> torch.Tensor:
    """A style image scaled (up or down) so its longer side is ``side`` px, as a tensor."""
    return prepare_image(image, side, MIN_SIDE, max_megapixels)


class AdaINStylizer(FeedForwardStylizer):
    """AdaIN with the mixed style statistics cached; ``weights`` gives the normalised VGG-19
    encoder's and the decoder's checkpoint paths keyed by weight-file name."""

    BYTES_PER_PIXEL = BYTES_PER_PIXEL
    PAD_MULTIPLE = DOWNSCALE

    def load_networks(self, weights: Mapping[str, Path]) -> None:
        paths = weight_paths(weights, WEIGHTS, "AdaIN")
        self.encoder = load_vgg_encoder(paths["encoder"], self.device, self.dtype)
        self.decoder = load_adain_decoder(paths["decoder"], self.device, self.dtype)

    def encode_styles(self, styles: list[Image.Image], weights: list[float],
                      max_megapixels: float) -> None:
        stats = [calc_mean_std(self.encoder(self._to_device(
            prepare_style(style, max_megapixels=max_megapixels), self.dtype)))
            for style in styles]
        self.style_mean, self.style_std = mix_stats(stats, weights)

    def check_frame_size(self, height: int, width: int) -> None:
        if height % DOWNSCALE or width % DOWNSCALE or min(height, width) < MIN_SIDE:
            raise StyleTransferError(f"frames are {width}x{height}; AdaIN needs sides that are "
                                     f"multiples of 8 and at least {MIN_SIDE}")

    def target_features(self, content_feat: torch.Tensor,
                        content_stats: tuple[torch.Tensor, torch.Tensor] | None = None
                        ) -> torch.Tensor:
        """The decoder's input for relu4_1 content features: AdaIN with the cached style
        statistics, traded off against the content features by ``alpha``."""
        target = adain_with_stats(content_feat, self.style_mean, self.style_std, content_stats)
        return trade_off(content_feat, target, self.alpha)

    def forward_eager(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.encoder(x)
        if self.kept is not None:
            self.kept.update(content=x, feat=feat)
        return self.decoder(self.target_features(feat))

    def stylize_masked(self, frames: torch.Tensor, region: torch.Tensor,
                       rest: FeedForwardStylizer | None) -> torch.Tensor:
        """Masked AdaIN: the relu4_1 features get this style's statistics where ``region``
        is painted and ``rest``'s (or their own) elsewhere, each normalised by the content's
        statistics over its own region (:func:`~app.engine.features.masked_adain`); one
        decoder pass over the blended map."""
        height, width = frames.shape[-2:]
        self.check_frame_size(height, width)
        outside = None if not isinstance(rest, AdaINStylizer) else (rest.style_mean,
                                                                     rest.style_std)
        with torch.inference_mode():
            content = self._to_device(frames)
            feat = self.encoder(content.to(self.dtype))
            painted = region_at(region.to(self.device), tuple(feat.shape[-2:]))
            target = masked_adain(feat, painted, (self.style_mean, self.style_std), outside)
            return self._finish(self.decoder(trade_off(feat, target, self.alpha)), content)

    def stylize_tiled(self, frames: torch.Tensor, tile_side: int = 0) -> torch.Tensor:
        """:meth:`stylize_frames` tile by tile: encode every tile and sum the relu4_1
        statistics over the pixels each tile owns, then normalise every tile with those
        whole-image statistics, decode it and blend the tiles with raised-cosine windows.
        Tiles are run with :data:`TILE_CONTEXT` pixels of context, cut away after decoding."""
        side, overlap = tile_layout(self._max_pixels() // frames.shape[0],
                                    tile_side or self.tile_side, TILE_CONTEXT)
        tiles = tile_grid(frames.shape[-2], frames.shape[-1], side, overlap, DOWNSCALE,
                          TILE_CONTEXT)
        features: list[torch.Tensor | None] = []
        sums = ChannelSums()
        with torch.inference_mode():
            for tile in tiles:
                crop = self._to_device(tile.crop_with_context(frames), self.dtype)
                features.append(self.encoder(crop))
                sums.add(tile.owned(features[-1], DOWNSCALE))
            stats = sums.mean_std(EPS)

            def decoded():
                for index, tile in enumerate(tiles):
                    feat, features[index] = features[index], None   # free as we go
                    out = self.decoder(self.target_features(feat, stats))  # type: ignore[arg-type]
                    yield tile, self._finish(tile.without_context(out), tile.crop(frames))

            return assemble(decoded(), tuple(frames.shape), overlap, self.device)
