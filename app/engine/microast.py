"""MicroAST: super-fast arbitrary style transfer with two tiny encoders and dual modulation.

Wang et al., "MicroAST: Towards Super-Fast Ultra-Resolution Arbitrary Style Transfer",
AAAI 2023. No VGG at run time: a content encoder and a style encoder (same micro
architecture, separate weights) each map an RGB image in [0, 1] (no mean/std normalisation)
to two 64-channel feature maps at 1/4 resolution, ``f_shallow`` and ``f_deep``. The style
side gives two kinds of modulation signal (the paper's *dual modulation*, Sec. 3.2):

- feature modulation (FM): AdaIN statistics, per-channel mean and std of the style features;
- filter modulation (FiM): per-channel ``w`` and ``b`` that the modulator predicts from the
  style features (a depthwise 3x3 conv then global average pooling). Inside a decoder
  residual block every conv output ``y`` of an input ``x`` becomes ``w * y + b * x``.

The decoder applies, deepest first: AdaIN(f_deep_c, deep stats) -> residual block with FiM
(w_deep, b_deep) -> AdaIN(., shallow stats) -> residual block with FiM (w_shallow,
b_shallow) -> two bilinear x2 upsamplings with depthwise/pointwise convs -> a 9x9 conv to RGB.

Large images run in overlapping tiles (:mod:`app.engine.tiling`, :func:`stylize_tiled`),
each computed with :data:`TILE_CONTEXT` pixels of context around it (then cut away); both
AdaIN steps and the content's own style code use statistics summed over the whole image, so
every tile is computed as in the whole image and the blended tiles show no seams.

Everything the decoder needs from a style is a :class:`StyleCode` of eight (1, 64, 1, 1)
vectors, so a style is encoded once and several styles are mixed by a weighted average of
their codes. Style strength ``alpha`` mixes the style's code with the content's own code
(the content "stylised by itself", which reconstructs it); see :func:`blend_with_own_style`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from app.engine.checkpoints import load_strict
from app.engine.color import keep_content_chroma
from app.engine.device import inference_dtype, pick_device
from app.engine.errors import StyleTransferError
from app.engine.feedforward import style_mix
from app.engine.images import STYLE_SIDE, check_megapixels, check_style_shape, pil_to_tensor
from app.engine.options import StyleOptions
from app.engine.tiling import (ChannelSums, Tile, assemble, max_untiled_pixels, tile_grid,
                               tile_layout)

WEIGHT_NAMES = {
    "content_encoder": "microast/content_encoder_iter_160000.pth.tar",
    "style_encoder": "microast/style_encoder_iter_160000.pth.tar",
    "modulator": "microast/modulator_iter_160000.pth.tar",
    "decoder": "microast/decoder_iter_160000.pth.tar",
}
DOWNSCALE = 4      # the encoders work at 1/4 resolution; inputs are padded to a multiple of it
STAT_EPS = 1e-5    # added to the variance, as in training
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


# ----------------------------------------------------------------------------- networks
class ConvLayer(nn.Module):
    """Reflection padding then a (possibly grouped) convolution."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__()
        self.pad = nn.ReflectionPad2d(kernel // 2)
        self.conv_layer = nn.Conv2d(c_in, c_out, kernel, stride, groups=groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_layer(self.pad(x))


class ResidualBlock(nn.Module):
    """``x + conv2(relu(conv1(x)))``; with filter modulation each conv output ``y`` of
    input ``x`` is replaced by ``w * y + b * x`` (paper Eq. 3)."""

    def __init__(self, channels: int = 64):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3)
        self.conv2 = ConvLayer(channels, channels, 3)

    def forward(self, x: torch.Tensor, w: torch.Tensor | None = None,
                b: torch.Tensor | None = None) -> torch.Tensor:
        if w is None or b is None:
            return x + self.conv2(F.relu(self.conv1(x)))
        h = F.relu(w * self.conv1(x) + b * x)
        return x + (w * self.conv2(h) + b * h)


class MicroEncoder(nn.Module):
    """9x9 conv, two stride-2 depthwise-separable convs, a residual block (-> shallow), a
    second residual block (-> deep). Same layout for the content and the style encoder."""

    def __init__(self):
        super().__init__()
        self.enc1 = nn.Sequential(
            ConvLayer(3, 16, 9), nn.ReLU(),
            ConvLayer(16, 32, 3, stride=2, groups=16), nn.ReLU(),
            ConvLayer(32, 32, 1), nn.ReLU(),
            ConvLayer(32, 64, 3, stride=2, groups=32), nn.ReLU(),
            ConvLayer(64, 64, 1), nn.ReLU(),
            ResidualBlock(64),
        )
        self.enc2 = nn.Sequential(ResidualBlock(64))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shallow = self.enc1(x)
        return shallow, self.enc2(shallow)


class Modulator(nn.Module):
    """Filter-modulation signals: a depthwise 3x3 conv and a global average pool per signal;
    ``weight1``/``bias1`` read the shallow style features, ``weight2``/``bias2`` the deep."""

    def __init__(self):
        super().__init__()
        for name in ("weight1", "bias1", "weight2", "bias2"):
            self.add_module(name, nn.Sequential(ConvLayer(64, 64, 3, groups=64),
                                                nn.AdaptiveAvgPool2d(1)))

    def forward(self, shallow: torch.Tensor, deep: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.weight1(shallow), self.bias1(shallow), self.weight2(deep), self.bias2(deep)


class MicroDecoder(nn.Module):
    """Two modulated residual blocks, then upsampling back to full resolution."""

    def __init__(self):
        super().__init__()
        self.dec1 = ResidualBlock(64)
        self.dec2 = ResidualBlock(64)
        self.dec3 = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear"),
            ConvLayer(64, 32, 3, groups=32), nn.ReLU(),
            ConvLayer(32, 32, 1), nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="bilinear"),
            ConvLayer(32, 16, 3, groups=16), nn.ReLU(),
            ConvLayer(16, 16, 1), nn.ReLU(),
            ConvLayer(16, 3, 9),
        )


@dataclass
class MicroASTNetworks:
    """The four loaded sub-networks, in eval mode on one device and dtype."""

    content_encoder: MicroEncoder
    style_encoder: MicroEncoder
    modulator: Modulator
    decoder: MicroDecoder


# ----------------------------------------------------------------------------- the maths
def calc_mean_std(feat: torch.Tensor, eps: float = STAT_EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of (B, C, H, W) features (unbiased variance + ``eps``, as in
    training), computed in float32 so fp16 inference cannot overflow them."""
    flat = feat.float().flatten(2)
    mean = flat.mean(dim=2)[..., None, None]
    std = (flat.var(dim=2) + eps).sqrt()[..., None, None]
    return mean, std


def adain(feat: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
          own_stats: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """AdaIN (Huang & Belongie 2017): ``std * (feat - mu(feat)) / sigma(feat) + mean``;
    ``own_stats`` replaces (mu(feat), sigma(feat)), e.g. by a whole image's for a tile."""
    own_mean, own_std = own_stats or calc_mean_std(feat)
    return ((feat.float() - own_mean) / own_std * std + mean).to(feat.dtype)


@dataclass
class StyleCode:
    """Everything MicroAST's decoder needs from a style: the AdaIN statistics of the style
    encoder's shallow and deep features and the modulator's filter weights and biases."""

    mean_shallow: torch.Tensor
    std_shallow: torch.Tensor
    mean_deep: torch.Tensor
    std_deep: torch.Tensor
    w_shallow: torch.Tensor
    b_shallow: torch.Tensor
    w_deep: torch.Tensor
    b_deep: torch.Tensor


def encode_style(nets: MicroASTNetworks, style: torch.Tensor) -> StyleCode:
    """The :class:`StyleCode` of one (1, 3, H, W) style image in [0, 1]."""
    shallow, deep = nets.style_encoder(style)
    w1, b1, w2, b2 = nets.modulator(shallow, deep)
    mean_s, std_s = calc_mean_std(shallow)
    mean_d, std_d = calc_mean_std(deep)
    return StyleCode(mean_s, std_s, mean_d, std_d, w1.float(), b1.float(), w2.float(), b2.float())


def mix_style_codes(codes: list[StyleCode], weights: list[float]) -> StyleCode:
    """Weighted average of style codes (``weights`` sum to 1): interpolates both the AdaIN
    statistics and the filter-modulation signals, as AdaIN interpolates feature statistics."""
    return StyleCode(**{
        f.name: sum(w * getattr(code, f.name) for code, w in zip(codes, weights))
        for f in fields(StyleCode)
    })


def modulate_and_decode(nets: MicroASTNetworks, shallow_c: torch.Tensor, deep_c: torch.Tensor,
                        code: StyleCode) -> torch.Tensor:
    """Decode content features under a style code (paper Fig. 2, test time): see
    :func:`decode` (only the deep content features are used)."""
    return decode(nets.decoder, deep_c, code)


def decode(decoder: MicroDecoder, deep_c: torch.Tensor, code: StyleCode) -> torch.Tensor:
    """AdaIN with the deep statistics, a residual block under the deep filter modulation,
    AdaIN with the shallow statistics, a residual block under the shallow filter
    modulation, upsampling (the decoder alone: what a strength preview re-runs)."""
    x = adain(deep_c, code.mean_deep, code.std_deep)
    x = decoder.dec1(x, code.w_deep.to(x.dtype), code.b_deep.to(x.dtype))
    x = adain(x, code.mean_shallow, code.std_shallow)
    x = decoder.dec2(x, code.w_shallow.to(x.dtype), code.b_shallow.to(x.dtype))
    return decoder.dec3(x)


def blend_with_own_style(nets: MicroASTNetworks, code: StyleCode, content: torch.Tensor,
                         alpha: float) -> StyleCode:
    """Style strength: ``alpha * code + (1 - alpha) * own``, where ``own`` is the content
    stylised by itself (its own code from the style encoder and modulator), per frame.

    At alpha = 0 the decoder reconstructs the content (mean absolute error about 0.07 on
    the astronaut photo). The original code's blend, ``alpha * AdaIN(f) + (1 - alpha) * f``
    of content-encoder features, is not usable with these weights: the content encoder's
    features are ~50x smaller than the style encoder's statistics the decoder was trained
    on, and at alpha = 0.5 the output leaves [0, 1] by an order of magnitude.
    """
    if alpha >= 1.0:
        return code
    own = encode_style(nets, content)
    return mix_style_codes([code, own], [alpha, 1.0 - alpha])


# ----------------------------------------------------------------------------- loading
_NETWORK_CACHE: dict[tuple[str, tuple[str, ...], torch.dtype], MicroASTNetworks] = {}
_CACHE_LOCK = threading.Lock()


def resolve_weight_paths(weights: Mapping[str, Path]) -> dict[str, Path]:
    """The four checkpoints' paths keyed by part (``content_encoder``, ...), from ``weights``
    keyed by registry name as the dispatcher gives them (:data:`WEIGHT_NAMES`)."""
    expected = set(WEIGHT_NAMES.values())
    if set(weights) != expected:
        raise StyleTransferError(f"unknown MicroAST weight(s) {sorted(set(weights) - expected)}; "
                                 f"expected {sorted(expected)}")
    return {part: Path(weights[name]) for part, name in WEIGHT_NAMES.items()}


def load_networks(device: torch.device, paths: dict[str, Path],
                  dtype: torch.dtype = torch.float32) -> MicroASTNetworks:
    """The four networks, loaded strictly with ``weights_only=True`` and cached per
    (device, paths, dtype) so a worker keeps them warm between jobs."""
    key = (str(device), tuple(str(paths[p]) for p in WEIGHT_NAMES), dtype)
    with _CACHE_LOCK:
        if key not in _NETWORK_CACHE:
            nets = MicroASTNetworks(MicroEncoder(), MicroEncoder(), Modulator(), MicroDecoder())
            for part in WEIGHT_NAMES:
                module = getattr(nets, part)
                load_strict(module, paths[part], "MicroAST")
                module.eval().requires_grad_(False).to(device=device, dtype=dtype)
                # channels_last: 0.30 -> 0.19 s at 512 px and 2.8 -> 1.4 s at 1024 px on the
                # 2-core CPU (python -m bench); also the fast layout for fp16 on CUDA
                module.to(memory_format=torch.channels_last)
            _NETWORK_CACHE[key] = nets
        return _NETWORK_CACHE[key]


# ----------------------------------------------------------------------------- the engine


def prepare_style(image: Image.Image, side: int = STYLE_SIDE,
                  max_megapixels: float = 40.0) -> torch.Tensor:
    """A style image scaled (up or down) so its longer side is ``side`` px, as a tensor."""
    check_megapixels(image.width, image.height, "style image", max_megapixels)
    check_style_shape(image.width, image.height)
    scale = side / max(image.size)
    size = (max(DOWNSCALE, round(image.width * scale)), max(DOWNSCALE, round(image.height * scale)))
    if size != image.size:
        image = image.resize(size, Image.Resampling.LANCZOS)
    return pil_to_tensor(image)


class MicroASTStylizer:
    """A :class:`~app.engine.types.FrameStylizer` for MicroAST with its style code cached.

    The style images are encoded once here; :meth:`stylize_frames` then costs one content
    encoder and one decoder pass per batch. fp16 on CUDA, fp32 on the CPU.
    """

    def __init__(self, styles: list[Image.Image], options: StyleOptions,
                 weights: Mapping[str, Path]):
        mix = style_mix(styles, options)
        self.device = pick_device(options.device)
        self.dtype = inference_dtype(self.device)
        self.alpha = float(options.alpha)
        self.preserve_color = options.preserve_color
        self.tile_megapixels, self.tile_side = options.tile_megapixels, options.tile_side
        self.nets = load_networks(self.device, resolve_weight_paths(weights), self.dtype)
        with torch.inference_mode():
            codes = [encode_style(self.nets, self._to_device(
                prepare_style(s, max_megapixels=options.max_megapixels)).to(self.dtype))
                     for s, w in zip(styles, mix) if w > 0]
            self.style_code = mix_style_codes(codes, [w for w in mix if w > 0])
        self._forward = self._eager_forward
        if options.compiled and self.device.type == "cuda":
            from app.engine.compiled import compile_for_cuda

            self._forward = compile_for_cuda(self._eager_forward)
        self.kept: dict[str, torch.Tensor] | None = None

    def keep_for_strength_preview(self) -> None:
        """Record the next untiled forward pass's network input and deep content features
        in :attr:`kept` (:mod:`app.engine.strength_preview`); eager, so nothing compiled
        has to know."""
        self.kept = {}
        self._forward = self._eager_forward

    def _max_pixels(self) -> int:
        per_pixel = BYTES_PER_PIXEL * (0.5 if self.dtype == torch.float16 else 1.0)
        return max_untiled_pixels(self.device, per_pixel, self.tile_megapixels)

    def _to_device(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.device.type == "cpu" and self.device.type == "cuda":
            frames = frames.pin_memory().to(self.device, non_blocking=True)
        return frames.to(self.device, torch.float32).contiguous(memory_format=torch.channels_last)

    def _finish(self, out: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
        out = out.float()
        if self.preserve_color:
            out = keep_content_chroma(out, content)
        return out.clamp_(0.0, 1.0).contiguous()

    def _eager_forward(self, x: torch.Tensor) -> torch.Tensor:
        code = blend_with_own_style(self.nets, self.style_code, x, self.alpha)
        shallow, deep = self.nets.content_encoder(x)
        if self.kept is not None:
            self.kept.update(content=x, deep=deep)
        return modulate_and_decode(self.nets, shallow, deep, code)

    def stylize_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) floats in [0, 1] to stylised frames of the same shape in [0, 1]
        (float32 on ``self.device``). Sides that are not multiples of 4 are reflection-padded
        for the network and cropped back. Batches larger than memory allows (or than
        ``StyleOptions.tile_megapixels``) go through :meth:`stylize_tiled`."""
        if frames.dim() != 4 or frames.shape[1] != 3:
            raise StyleTransferError(f"expected frames of shape (B, 3, H, W), got {tuple(frames.shape)}")
        height, width = frames.shape[-2:]
        if frames.shape[0] * height * width > self._max_pixels():
            return self.stylize_tiled(frames)
        with torch.inference_mode():
            content = self._to_device(frames)
            pad_h, pad_w = (-height) % DOWNSCALE, (-width) % DOWNSCALE
            x = F.pad(content, (0, pad_w, 0, pad_h), mode="reflect") if pad_h or pad_w else content
            out = self._forward(x.to(self.dtype).contiguous(memory_format=torch.channels_last))
            return self._finish(out[..., :height, :width], content)

    def stylize_tiled(self, frames: torch.Tensor, tile_side: int = 0) -> torch.Tensor:
        """:meth:`stylize_frames` tile by tile with whole-image statistics (see
        :func:`stylize_tiled`)."""
        side, overlap = tile_layout(self._max_pixels() // frames.shape[0],
                                    tile_side or self.tile_side, TILE_CONTEXT)
        height, width = frames.shape[-2:]
        pad_h, pad_w = (-height) % TILE_MULTIPLE, (-width) % TILE_MULTIPLE
        with torch.inference_mode():
            padded = F.pad(frames.float(), (0, pad_w, 0, pad_h), mode="reflect") \
                if pad_h or pad_w else frames.float()
            tiles = tile_grid(padded.shape[-2], padded.shape[-1], side, overlap, TILE_MULTIPLE,
                              TILE_CONTEXT)
            out = stylize_tiled(self, padded, tiles, overlap)[..., :height, :width]
            content = frames.to(self.device, torch.float32)
            return self._finish(out, content) if self.preserve_color else out


def _owned_stats(tiles: list[Tile], feats: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    sums = ChannelSums()
    for tile, feat in zip(tiles, feats):
        sums.add(tile.owned(feat, DOWNSCALE))
    return sums.mean_std(STAT_EPS)


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
    feats = [nets.decoder.dec1(adain(f, code.mean_deep, code.std_deep, deep_stats), w_deep, b_deep)
             for f in feats]
    shallow_stats = _owned_stats(tiles, feats)
    w_shallow, b_shallow = code.w_shallow.to(dtype), code.b_shallow.to(dtype)

    def decoded():
        for index, tile in enumerate(tiles):
            x = adain(feats[index], code.mean_shallow, code.std_shallow, shallow_stats)
            feats[index] = None  # type: ignore[call-overload]   # free as we go
            out = nets.decoder.dec3(nets.decoder.dec2(x, w_shallow, b_shallow))
            yield tile, tile.without_context(out).float()

    return assemble(decoded(), tuple(frames.shape), overlap, stylizer.device).clamp_(0.0, 1.0)

