"""The normalised VGG-19 encoder and the AdaIN decoder, in the published checkpoints' layout.

Both networks are plain ``nn.Sequential`` stacks with exactly the module order of
naoto0804/pytorch-AdaIN ``net.py``, so its published encoder (keys ``0.weight`` ...
``51.bias``) and decoder (``1.weight`` ... ``28.bias``) checkpoints load strictly.

Input convention of the published encoder: RGB in [0, 1]. The leading 1x1 conv holds the
Caffe preprocessing (RGB -> BGR, x255, minus the ImageNet mean); every 3x3 conv is preceded by
reflection padding; pooling is 2x2 max pooling with ``ceil_mode=True``. Gatys et al. rescaled
the weights so each filter's mean activation over ImageNet is 1 ("normalised").
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from app.engine.networks.cache import cached
from app.engine.weights.checkpoints import load_strict

# VGG-19 conv widths by block, up to conv5_4; "M" is a max-pool.
_VGG_PLAN = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
             512, 512, 512, 512, "M", 512, 512, 512, 512)
# Decoder from relu4_1 back to RGB, mirror of the encoder; "U" is a nearest x2 upsampling.
_DECODER_PLAN = (256, "U", 256, 256, 256, 128, "U", 128, 64, "U", 64, 3)

# Tap name -> index one past its ReLU in the encoder Sequential (so ``encoder[:end]`` ends
# on that ReLU). Derived from _VGG_PLAN below and checked in the tests.
TAP_ENDS: dict[str, int] = {}


def _index_taps() -> None:
    index, block, conv = 1, 1, 0              # module 0 is the 1x1 preprocessing conv
    for item in _VGG_PLAN:
        if item == "M":
            index, block, conv = index + 1, block + 1, 0
            continue
        conv += 1
        index += 3                            # pad, conv, relu
        TAP_ENDS[f"relu{block}_{conv}"] = index


_index_taps()
STYLE_TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_TAP = "relu4_2"


class VGGEncoder(nn.Sequential):
    """Normalised VGG-19 to relu5_4 (53 modules); :meth:`encode` returns named taps."""

    def __init__(self) -> None:
        layers: list[nn.Module] = [nn.Conv2d(3, 3, 1)]
        c_in = 3
        for item in _VGG_PLAN:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
            else:
                layers += [nn.ReflectionPad2d(1), nn.Conv2d(c_in, int(item), 3), nn.ReLU()]
                c_in = int(item)
        super().__init__(*layers)

    def encode(self, x: torch.Tensor, taps: tuple[str, ...] = ("relu4_1",)
               ) -> dict[str, torch.Tensor]:
        """Features of ``x`` ((B, 3, H, W) RGB in [0, 1]) at the named ReLU outputs (keys of
        :data:`TAP_ENDS`); runs only as deep as the deepest tap asked for."""
        unknown = set(taps) - set(TAP_ENDS)
        if unknown:
            raise ValueError(f"unknown tap(s) {sorted(unknown)}; choose from {sorted(TAP_ENDS)}")
        out: dict[str, torch.Tensor] = {}
        start = 0
        for tap in sorted(taps, key=TAP_ENDS.__getitem__):
            end = TAP_ENDS[tap]
            for layer in list(self)[start:end]:
                x = layer(x)
            out[tap], start = x, end
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """relu4_1 features (what AdaIN uses)."""
        return self.encode(x, ("relu4_1",))["relu4_1"]


class AdaINDecoder(nn.Sequential):
    """relu4_1 features (512 channels) back to an RGB image; 29 modules."""

    def __init__(self) -> None:
        layers: list[nn.Module] = []
        c_in = 512
        for item in _DECODER_PLAN:
            if item == "U":
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
                continue
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(c_in, int(item), 3), nn.ReLU()]
            c_in = int(item)
        super().__init__(*layers[:-1])        # no ReLU after the last conv


def _load(kind: str, path: Path, device: torch.device | str, dtype: torch.dtype) -> nn.Module:
    def build() -> nn.Module:
        net = VGGEncoder() if kind == "vgg" else AdaINDecoder()
        load_strict(net, path, "pytorch-AdaIN " + type(net).__name__)
        net = net.eval().requires_grad_(False).to(device=device, dtype=dtype)
        return net.to(memory_format=torch.channels_last)

    return cached((kind, str(Path(path)), str(torch.device(device)), dtype), build)


def load_vgg_encoder(path: Path, device: torch.device | str = "cpu",
                     dtype: torch.dtype = torch.float32) -> VGGEncoder:
    """The normalised VGG-19 encoder from ``path``, in eval mode with frozen weights,
    cached per (path, device, dtype) so workers stay warm."""
    return _load("vgg", path, device, dtype)  # type: ignore[return-value]


def load_adain_decoder(path: Path, device: torch.device | str = "cpu",
                       dtype: torch.dtype = torch.float32) -> AdaINDecoder:
    """The AdaIN decoder from ``path``; cached."""
    return _load("decoder", path, device, dtype)  # type: ignore[return-value]
