"""The Collaborative Distillation 16x-pruned VGG-19 encoder, as a feature extractor.

Wang et al., "Collaborative Distillation for Ultra-Resolution Universal Style Transfer",
CVPR 2020. Each VGG-19 conv layer up to conv5_1 keeps about a quarter of its filters
(16, 32, 64, 128, 128 channels at the relu1_1..relu5_1 stages instead of 64..512), so the
features are about 16x cheaper. The published encoder checkpoint holds every layer up to
conv5_1; the ``*_aux`` 1x1 convs are the distillation heads that map back to full VGG widths
(loaded for a strict check, not used by :meth:`PrunedVGG.encode`).

Input convention (the original code's): RGB in [0, 1]; the first 1x1 conv ``conv0`` holds the
"normalised VGG" preprocessing (RGB -> BGR, x255, minus the ImageNet mean). Every 3x3 conv
has reflection padding 1; pooling is 2x2 max pooling with stride 2.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from app.engine.device import pick_device
from app.engine.networks.cache import cached
from app.engine.weights.checkpoints import load_strict

# (conv name, tap name after its ReLU, max-pool after it?), in forward order.
LAYERS: tuple[tuple[str, str, bool], ...] = (
    ("conv11", "relu1_1", False), ("conv12", "relu1_2", True),
    ("conv21", "relu2_1", False), ("conv22", "relu2_2", True),
    ("conv31", "relu3_1", False), ("conv32", "relu3_2", False),
    ("conv33", "relu3_3", False), ("conv34", "relu3_4", True),
    ("conv41", "relu4_1", False), ("conv42", "relu4_2", False),
    ("conv43", "relu4_3", False), ("conv44", "relu4_4", True),
    ("conv51", "relu5_1", False),
)
WIDTHS = {"conv11": (3, 16), "conv12": (16, 16), "conv21": (16, 32), "conv22": (32, 32),
          "conv31": (32, 64), "conv32": (64, 64), "conv33": (64, 64), "conv34": (64, 64),
          "conv41": (64, 128), "conv42": (128, 128), "conv43": (128, 128),
          "conv44": (128, 128), "conv51": (128, 128)}
AUX_WIDTHS = {"conv11_aux": (16, 64), "conv21_aux": (32, 128), "conv31_aux": (64, 256),
              "conv41_aux": (128, 512), "conv51_aux": (128, 512)}
TAPS = tuple(tap for _, tap, _ in LAYERS)
STYLE_TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_TAP = "relu4_2"   # exists in the pruned net, as in Gatys et al.


class PrunedVGG(nn.Module):
    """VGG-19 up to relu5_1 with 16x fewer weights; :meth:`encode` returns named taps."""

    def __init__(self) -> None:
        super().__init__()
        self.conv0 = nn.Conv2d(3, 3, 1)
        for name, (c_in, c_out) in WIDTHS.items():
            self.add_module(name, nn.Conv2d(c_in, c_out, 3))
        for name, (c_in, c_out) in AUX_WIDTHS.items():
            self.add_module(name, nn.Conv2d(c_in, c_out, 1))

    def encode(self, x: torch.Tensor,
               taps: tuple[str, ...] = STYLE_TAPS) -> dict[str, torch.Tensor]:
        """Features of ``x`` ((B, 3, H, W) RGB in [0, 1]) at the named ReLU outputs
        (any of :data:`TAPS`); stops after the deepest one asked for."""
        unknown = set(taps) - set(TAPS)
        if unknown:
            raise ValueError(f"unknown tap(s) {sorted(unknown)}; choose from {TAPS}")
        out: dict[str, torch.Tensor] = {}
        x = self.conv0(x)
        for conv, tap, pool in LAYERS:
            x = F.relu(getattr(self, conv)(F.pad(x, (1, 1, 1, 1), mode="reflect")))
            if tap in taps:
                out[tap] = x
                if len(out) == len(taps):
                    break
            if pool:
                x = F.max_pool2d(x, 2, 2)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """relu5_1 features."""
        return self.encode(x, ("relu5_1",))["relu5_1"]


def load_pruned_encoders(device: torch.device | str | None, path: Path) -> PrunedVGG:
    """The pruned VGG-19 from ``path`` on ``device`` (``None``: :func:`pick_device`
    ``auto``), eval mode, no gradients for its weights, loaded strictly with
    ``weights_only=True``; cached per (device, path)."""
    device = pick_device("auto") if device is None else torch.device(device)

    def build() -> PrunedVGG:
        net = load_strict(PrunedVGG(), Path(path), "16x-pruned VGG-19 encoder",
                          key="model")   # saved as {"epoch": .., "model": state}
        return net.eval().requires_grad_(False).to(device)

    return cached(("pruned-vgg19", str(device), str(Path(path))), build)
