"""MicroAST on frames: the frame stylizer with its style code cached, and seamless tiles.

Large images run in overlapping tiles (:mod:`app.engine.tiling`, :func:`stylize_tiled`),
each computed with :data:`TILE_CONTEXT` pixels of context around it (then cut away); both
AdaIN steps and the content's own style code use statistics summed over the whole image, so
every tile is computed as in the whole image and the blended tiles show no seams.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

import torch
from PIL import Image

from app.engine.features import EPS, adain_with_stats, weighted_mean_std
from app.engine.feedforward import FeedForwardStylizer
from app.engine.masks import region_at
from app.engine.methods.microast.network import (
    DOWNSCALE,
    MicroASTNetworks,
    MicroDecoder,
    StyleCode,
    blend_with_own_style,
    decode,
    encode_style,
    load_networks,
    mix_style_codes,
    prepare_style,
    resolve_weight_paths,
)
from app.engine.tiling import ChannelSums, Tile, assemble

TILE_MULTIPLE = 8  # tiled images are reflection-padded to this
# Peak memory per pixel of a batch: 809 MB for 1920x1080 and 3008 MB for 3840x2160 in fp32 on
# the CPU (``python -m bench``'s tiled rows), rounded up. Decides when a batch is tiled;
# halved for fp16.
BYTES_PER_PIXEL = 400
# Receptive field of the content encoder + decoder as a radius: a 9x9 conv, two stride-2
# convs and two residual blocks at 1/4 (16 px) in the encoder, two residual blocks at 1/4,
# the upsampling convs and a 9x9 conv in the decoder; an impulse moves outputs up to 52 px
# away (tests/perf/test_tiling.py). Rounded up to the tile grid.
TILE_CONTEXT = 56


class MicroASTStylizer(FeedForwardStylizer):
    """MicroAST with its style code cached: the style images are encoded once, then each
    batch costs one content-encoder and one decoder pass. Sides that are not multiples of 4
    are reflection-padded for the network and cropped back."""

    BYTES_PER_PIXEL = BYTES_PER_PIXEL
    PAD_MULTIPLE = DOWNSCALE

    def load_networks(self, weights: Mapping[str, Path]) -> None:
        self.nets = load_networks(self.device, resolve_weight_paths(weights), self.dtype)

    def encode_styles(self, styles: list[Image.Image], weights: list[float],
                      max_megapixels: float) -> None:
        codes = [encode_style(self.nets, self._to_device(
            prepare_style(style, max_megapixels=max_megapixels), self.dtype))
            for style in styles]
        self.style_code = mix_style_codes(codes, weights)

    def forward_eager(self, x: torch.Tensor) -> torch.Tensor:
        code = blend_with_own_style(self.nets, self.style_code, x, self.alpha)
        deep = self.nets.content_encoder(x)[1]
        if self.kept is not None:
            self.kept.update(content=x, deep=deep)
        return decode(self.nets.decoder, deep, code)

    def stylize_masked(self, frames: torch.Tensor, region: torch.Tensor,
                       rest: FeedForwardStylizer | None) -> torch.Tensor:
        """Masked MicroAST: both AdaIN steps take each region's statistics from its own
        style code (this one where ``region`` is painted; ``rest``'s, or the content's own
        code, elsewhere), normalised over that region; each modulated residual block runs
        under each code and the two outputs are blended by the region, so the upsampling
        decoder sees one feature map (:func:`decode_masked`)."""
        with torch.inference_mode():
            content = self._to_device(frames)
            x = content.to(self.dtype)
            inside = blend_with_own_style(self.nets, self.style_code, x, self.alpha)
            outside = encode_style(self.nets, x) if not isinstance(rest, MicroASTStylizer) \
                else blend_with_own_style(self.nets, rest.style_code, x, self.alpha)
            deep = self.nets.content_encoder(x)[1]
            painted = region_at(region.to(self.device), tuple(deep.shape[-2:]))
            out = decode_masked(self.nets.decoder, deep, painted, inside, outside)
            return self._finish(out, content)

    def stylize_tiled(self, frames: torch.Tensor, tile_side: int = 0) -> torch.Tensor:
        """:meth:`stylize_frames` tile by tile with whole-image statistics (see
        :func:`stylize_tiled`)."""
        height, width = frames.shape[-2:]
        with torch.inference_mode():
            padded, tiles, overlap = self.padded_tiles(frames, TILE_CONTEXT, TILE_MULTIPLE,
                                                       tile_side)
            out = stylize_tiled(self, padded, tiles, overlap)[..., :height, :width]
            content = frames.to(self.device, torch.float32)
            return self._finish(out, content) if self.preserve_color else out


Signals = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]   # mean, std, w, b


def _in_regions(block: Callable[..., torch.Tensor], feat: torch.Tensor, painted: torch.Tensor,
                inside: Signals, outside: Signals) -> torch.Tensor:
    """``block`` after AdaIN on each region with that region's (mean, std, w, b), blended
    by ``painted``: AdaIN normalises by the content's statistics over the region itself."""
    parts = []
    for (mean, std, w, b), weight in ((inside, painted), (outside, 1.0 - painted)):
        normalised = adain_with_stats(feat, mean, std, weighted_mean_std(feat, weight))
        parts.append(block(normalised, w.to(feat.dtype), b.to(feat.dtype)))
    share = painted.to(feat.dtype)
    return parts[0] * share + parts[1] * (1 - share)


def decode_masked(decoder: MicroDecoder, deep: torch.Tensor, painted: torch.Tensor, inside: StyleCode,
                  outside: StyleCode) -> torch.Tensor:
    """:func:`~app.engine.methods.microast.network.decode` with two style codes, ``inside``
    where ``painted`` (at the features' size, in [0, 1]) and ``outside`` elsewhere."""
    def signals(code: StyleCode, depth: str) -> Signals:
        return (getattr(code, f"mean_{depth}"), getattr(code, f"std_{depth}"),
                getattr(code, f"w_{depth}"), getattr(code, f"b_{depth}"))

    x = _in_regions(decoder.dec1, deep, painted, signals(inside, "deep"),
                    signals(outside, "deep"))
    x = _in_regions(decoder.dec2, x, painted, signals(inside, "shallow"),
                    signals(outside, "shallow"))
    return decoder.dec3(x)


def _owned_stats(tiles: list[Tile], feats: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    sums = ChannelSums()
    for tile, feat in zip(tiles, feats):
        sums.add(tile.owned(feat, DOWNSCALE))
    return sums.mean_std(EPS)


def _own_code_tiled(nets: MicroASTNetworks, tiles: list[Tile], crops: list[torch.Tensor]
                    ) -> StyleCode:
    """The content's own :class:`StyleCode` from tiles: style-encoder statistics summed over
    the owned pixels, and the modulator's global average pools as owned-pixel means of its
    depthwise conv outputs."""
    shallow, deep = zip(*(nets.style_encoder(crop) for crop in crops))
    mean_s, std_s = _owned_stats(tiles, list(shallow))
    mean_d, std_d = _owned_stats(tiles, list(deep))
    signals = []
    for name, feats in (("weight1", shallow), ("bias1", shallow), ("weight2", deep),
                        ("bias2", deep)):
        conv = getattr(nets.modulator, name)[0]
        signals.append(_owned_stats(tiles, [conv(f) for f in feats])[0])
    w1, b1, w2, b2 = signals
    return StyleCode(mean_s, std_s, mean_d, std_d, w1, b1, w2, b2)


def stylize_tiled(stylizer: MicroASTStylizer, frames: torch.Tensor, tiles: list[Tile],
                  overlap: int) -> torch.Tensor:
    """MicroAST on (B, 3, H, W) ``frames`` (sides multiples of 8) tile by tile, unclamped.

    Three passes over the tiles, each keeping only 1/4-resolution features: (1) content
    encoder -> deep features, whose whole-image statistics feed the first AdaIN; (2) AdaIN and
    the deep-modulated residual block -> features whose whole-image statistics feed the second
    AdaIN; (3) AdaIN, the shallow-modulated block and the upsampling decoder per tile, blended
    with raised-cosine windows. Every tile runs on its
    :meth:`~app.engine.tiling.Tile.crop_with_context`, whose margins are cut away at the end.
    With alpha < 1 the content's own style code is computed from tiles too
    (:func:`_own_code_tiled`)."""
    nets, dtype = stylizer.nets, stylizer.dtype
    crops = [stylizer._to_device(tile.crop_with_context(frames)).to(dtype) for tile in tiles]
    code = stylizer.style_code
    if stylizer.alpha < 1.0:
        code = mix_style_codes([code, _own_code_tiled(nets, tiles, crops)],
                               [stylizer.alpha, 1.0 - stylizer.alpha])
    feats = [nets.content_encoder(crop)[1] for crop in crops]
    del crops
    deep_stats = _owned_stats(tiles, feats)
    w_deep, b_deep = code.w_deep.to(dtype), code.b_deep.to(dtype)
    feats = [nets.decoder.dec1(adain_with_stats(f, code.mean_deep, code.std_deep, deep_stats),
                               w_deep, b_deep) for f in feats]
    shallow_stats = _owned_stats(tiles, feats)
    w_shallow, b_shallow = code.w_shallow.to(dtype), code.b_shallow.to(dtype)

    def decoded():
        for index, tile in enumerate(tiles):
            x = adain_with_stats(feats[index], code.mean_shallow, code.std_shallow,
                                 shallow_stats)
            feats[index] = None  # type: ignore[call-overload]   # free as we go
            out = nets.decoder.dec3(nets.decoder.dec2(x, w_shallow, b_shallow))
            yield tile, tile.without_context(out).float()

    return assemble(decoded(), tuple(frames.shape), overlap, stylizer.device).clamp_(0.0, 1.0)
