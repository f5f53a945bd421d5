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

Everything the decoder needs from a style is a :class:`StyleCode` of eight (1, 64, 1, 1)
vectors, so a style is encoded once and several styles are mixed by a weighted average of
their codes (the frame stylizer is :mod:`.stylizer`). Style strength ``alpha`` mixes the style's code with the content's own code
(the content "stylised by itself", which reconstructs it); see :func:`blend_with_own_style`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from app.engine.features import adain_with_stats, calc_mean_std
from app.engine.feedforward import prepare_style as prepare_image
from app.engine.feedforward import weight_paths
from app.engine.images import STYLE_SIDE
from app.engine.methods.microast import WEIGHTS
from app.engine.networks.cache import cached
from app.engine.weights.checkpoints import load_strict

# Each part's weight-file name (the dispatcher keys paths by these).
WEIGHT_NAMES = {part: file.name for part, file in WEIGHTS.items()}
DOWNSCALE = 4      # the encoders work at 1/4 resolution; inputs are padded to a multiple of it


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


def decode(decoder: MicroDecoder, deep_c: torch.Tensor, code: StyleCode) -> torch.Tensor:
    """Decode deep content features under a style code (paper Fig. 2, test time): AdaIN with the deep statistics, a residual block under the deep filter modulation,
    AdaIN with the shallow statistics, a residual block under the shallow filter
    modulation, upsampling (the decoder alone: what a strength preview re-runs)."""
    x = adain_with_stats(deep_c, code.mean_deep, code.std_deep)
    x = decoder.dec1(x, code.w_deep.to(x.dtype), code.b_deep.to(x.dtype))
    x = adain_with_stats(x, code.mean_shallow, code.std_shallow)
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
def load_networks(device: torch.device, paths: dict[str, Path],
                  dtype: torch.dtype = torch.float32) -> MicroASTNetworks:
    """The four networks from ``paths`` (keyed by part, as :data:`WEIGHTS`), loaded strictly
    with ``weights_only=True`` and cached per (device, paths, dtype) so a worker keeps them
    warm between jobs."""
    def build() -> MicroASTNetworks:
        nets = MicroASTNetworks(MicroEncoder(), MicroEncoder(), Modulator(), MicroDecoder())
        for part in WEIGHTS:
            module = getattr(nets, part)
            load_strict(module, paths[part], "MicroAST")
            module.eval().requires_grad_(False).to(device=device, dtype=dtype)
            # channels_last: 0.30 -> 0.19 s at 512 px and 2.8 -> 1.4 s at 1024 px on the
            # 2-core CPU (python -m bench); also the fast layout for fp16 on CUDA
            module.to(memory_format=torch.channels_last)
        return nets

    return cached(("microast", str(device), tuple(str(paths[p]) for p in WEIGHTS), dtype), build)


def resolve_weight_paths(weights: Mapping[str, Path]) -> dict[str, Path]:
    """The four checkpoints' paths keyed by part (``content_encoder``, ...), from ``weights``
    keyed by weight-file name as the dispatcher gives them."""
    return weight_paths(weights, WEIGHTS, "MicroAST")


def prepare_style(image: Image.Image, side: int = STYLE_SIDE,
                  max_megapixels: float = 40.0) -> torch.Tensor:
    """A style image scaled (up or down) so its longer side is ``side`` px, as a tensor."""
    return prepare_image(image, side, DOWNSCALE, max_megapixels)
