"""AdaIN: arbitrary style transfer in real time (Huang & Belongie, ICCV 2017).

The encoder f is the normalised VGG-19 up to relu4_1, the decoder g mirrors it
(:mod:`app.engine.vgg`). For content c and style s:

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

from app.engine.color import keep_content_chroma
from app.engine.device import inference_dtype, pick_device
from app.engine.errors import StyleTransferError
from app.engine.feedforward import style_mix
from app.engine.images import STYLE_SIDE, check_megapixels, pil_to_tensor
from app.engine.options import StyleOptions
from app.engine.tiling import ChannelSums, assemble, max_untiled_pixels, tile_grid, tile_layout
from app.engine.vgg import DECODER_WEIGHT, VGG_WEIGHT, load_adain_decoder, load_vgg_encoder

EPS = 1e-5
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


def calc_mean_std(feat: torch.Tensor, eps: float = EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample, per-channel mean and standard deviation over H, W: two (B, C, 1, 1)."""
    flat = feat.float().flatten(2)
    var = flat.var(dim=2, unbiased=True) + eps
    return flat.mean(dim=2)[..., None, None], var.sqrt()[..., None, None]


def adain_with_stats(content_feat: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                     content_stats: tuple[torch.Tensor, torch.Tensor] | None = None
                     ) -> torch.Tensor:
    """``content_feat`` normalised per channel, then given ``std`` and ``mean`` (Eq. 8).
    ``content_stats`` replaces the content's own (mean, std), e.g. a whole image's for a
    tile of it."""
    c_mean, c_std = content_stats or calc_mean_std(content_feat)
    out = (content_feat.float() - c_mean) / c_std * std + mean
    return out.to(content_feat.dtype)


def adain(content_feat: torch.Tensor, style_feat: torch.Tensor) -> torch.Tensor:
    """Adaptive instance normalisation: align the content features' channel-wise mean and
    standard deviation with the style features' (Huang & Belongie 2017, Eq. 8)."""
    mean, std = calc_mean_std(style_feat)
    return adain_with_stats(content_feat, mean, std)


def mix_style_stats(stats: list[tuple[torch.Tensor, torch.Tensor]], weights: list[float]
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Convex combination of style statistics (Sec. 7.2): with weights summing to 1,
    AdaIN with the mixed statistics equals the same mix of the single-style AdaIN outputs."""
    mean = sum(w * m for w, (m, _) in zip(weights, stats))
    std = sum(w * s for w, (_, s) in zip(weights, stats))
    return mean, std  # type: ignore[return-value]


def trade_off(content_feat: torch.Tensor, target: torch.Tensor, alpha: float) -> torch.Tensor:
    """Content-style trade-off at the feature level: ``alpha * t + (1 - alpha) * f(c)``."""
    if alpha >= 1.0:
        return target
    return alpha * target + (1.0 - alpha) * content_feat




def prepare_style(image: Image.Image, side: int | None = None,
                  max_megapixels: float = 40.0) -> torch.Tensor:
    """A style image scaled (up or down) so its longer side is ``side`` (default
    :data:`STYLE_SIDE`), as (1, 3, H, W)."""
    side = STYLE_SIDE if side is None else side
    check_megapixels(image.width, image.height, "style image", max_megapixels)
    scale = side / max(image.size)
    size = (max(MIN_SIDE, round(image.width * scale)), max(MIN_SIDE, round(image.height * scale)))
    if size != image.size:
        image = image.resize(size, Image.Resampling.LANCZOS)
    return pil_to_tensor(image)


def resolve_paths(weights: Mapping[str, Path]) -> dict[str, Path]:
    """The encoder's and decoder's checkpoint paths from ``weights`` (keyed by registry
    name, as the dispatcher gives them)."""
    expected = {VGG_WEIGHT, DECODER_WEIGHT}
    if set(weights) != expected:
        raise StyleTransferError(f"unknown AdaIN weight(s) {sorted(set(weights) - expected)}; "
                                 f"expected {VGG_WEIGHT!r} and {DECODER_WEIGHT!r}")
    return {name: Path(weights[name]) for name in expected}


class AdaINStylizer:
    """A :class:`~app.engine.types.FrameStylizer` for AdaIN with the style statistics cached.

    ``weights`` gives the checkpoint paths keyed ``"adain/vgg_normalised.pth"`` and
    ``"adain/decoder.pth"``. Networks are cached per (path, device, dtype). fp16 and
    channels_last on CUDA, fp32 on the CPU.
    """

    def __init__(self, styles: list[Image.Image], options: StyleOptions,
                 weights: Mapping[str, Path]):
        mix = style_mix(styles, options)
        self.device = pick_device(options.device)
        self.dtype = inference_dtype(self.device)
        self.alpha = float(options.alpha)
        self.preserve_color = options.preserve_color
        self.tile_megapixels, self.tile_side = options.tile_megapixels, options.tile_side
        paths = resolve_paths(weights)
        self.encoder = load_vgg_encoder(paths[VGG_WEIGHT], self.device, self.dtype)
        self.decoder = load_adain_decoder(paths[DECODER_WEIGHT], self.device, self.dtype)
        with torch.inference_mode():
            stats = [calc_mean_std(self.encoder(self._to_device(
                prepare_style(style, max_megapixels=options.max_megapixels))))
                     for style, w in zip(styles, mix) if w > 0]
            self.style_mean, self.style_std = mix_style_stats(stats, [w for w in mix if w > 0])
        self._decode_features = self._eager_decode
        if options.compiled and self.device.type == "cuda":
            from app.engine.compiled import compile_for_cuda

            self._decode_features = compile_for_cuda(self._eager_decode)
        self.kept: dict[str, torch.Tensor] | None = None

    def keep_for_strength_preview(self) -> None:
        """Record the next untiled pass's input and relu4_1 content features in
        :attr:`kept` (:mod:`app.engine.strength_preview`); eager, so nothing compiled has to
        know."""
        self.kept = {}
        self._decode_features = self._eager_decode

    def _to_device(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu" and self.device.type == "cuda":
            x = x.pin_memory().to(self.device, non_blocking=True)   # copy overlaps the queue
        return x.to(self.device, self.dtype).contiguous(memory_format=torch.channels_last)

    def target_features(self, content_feat: torch.Tensor,
                        content_stats: tuple[torch.Tensor, torch.Tensor] | None = None
                        ) -> torch.Tensor:
        """The decoder's input for relu4_1 content features: AdaIN with the cached style
        statistics, traded off against the content features by ``alpha``."""
        target = adain_with_stats(content_feat, self.style_mean, self.style_std, content_stats)
        return trade_off(content_feat, target, self.alpha)

    def _eager_decode(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.encoder(x)
        if self.kept is not None:
            self.kept.update(content=x, feat=feat)
        return self.decoder(self.target_features(feat))

    def _finish(self, out: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        out = out.float()
        if self.preserve_color:
            out = keep_content_chroma(out, frames.to(self.device, torch.float32))
        return out.clamp_(0.0, 1.0).contiguous()

    def _max_pixels(self) -> int:
        per_pixel = BYTES_PER_PIXEL * (0.5 if self.dtype == torch.float16 else 1.0)
        return max_untiled_pixels(self.device, per_pixel, self.tile_megapixels)

    def needs_tiles(self, frames: torch.Tensor) -> bool:
        """Whether ``frames`` (B x H x W pixels) exceed what runs in one piece here."""
        return frames.shape[0] * frames.shape[-2] * frames.shape[-1] > self._max_pixels()

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
                features.append(self.encoder(self._to_device(tile.crop_with_context(frames))))
                sums.add(tile.owned(features[-1], DOWNSCALE))
            stats = sums.mean_std(EPS)

            def decoded():
                for index, tile in enumerate(tiles):
                    feat, features[index] = features[index], None   # free as we go
                    out = self.decoder(self.target_features(feat, stats))  # type: ignore[arg-type]
                    yield tile, self._finish(tile.without_context(out), tile.crop(frames))

            return assemble(decoded(), tuple(frames.shape), overlap, self.device)

    def stylize_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) floats in [0, 1] to stylised frames of the same shape in [0, 1]
        (float32 on ``self.device``). H and W must be multiples of 8, at least 16."""
        if frames.dim() != 4 or frames.shape[1] != 3:
            raise StyleTransferError(
                f"expected frames of shape (B, 3, H, W), got {tuple(frames.shape)}")
        height, width = frames.shape[-2:]
        if height % 8 or width % 8 or min(height, width) < MIN_SIDE:
            raise StyleTransferError(f"frames are {width}x{height}; AdaIN needs sides that are "
                                     f"multiples of 8 and at least {MIN_SIDE}")
        if self.needs_tiles(frames):
            return self.stylize_tiled(frames)
        with torch.inference_mode():
            return self._finish(self._decode_features(self._to_device(frames)), frames)

