"""torchvision's ImageNet GoogLeNet (Szegedy et al., "Going Deeper with Convolutions", CVPR
2015) as a feature extractor with named taps, for Deep Dream.

torchvision's published checkpoint is a plain state dict of
``torchvision.models.GoogLeNet`` *with* its two auxiliary classifiers (``aux1.*``,
``aux2.*``: torchvision builds the model with ``aux_logits=True`` to load it and drops them
afterwards) and batch-norm buffers including ``num_batches_tracked``. We build exactly that
module, so the file loads with ``strict=True``; the aux heads are loaded for the strict check
and never run.

Input convention: the weights were ported from TensorFlow and expect RGB scaled to [-1, 1].
torchvision's ``transform_input=True`` reaches that from ImageNet-normalised input; our input
is RGB in [0, 1], so :meth:`GoogLeNetFeatures.encode` maps ``x -> 2x - 1`` itself and the
model is built with ``transform_input=False`` (the same numbers, one step fewer).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from app.engine.networks.cache import cached
from app.engine.weights.checkpoints import load_strict

# The trunk in forward order; each name is a child module of torchvision's GoogLeNet and a tap.
TRUNK = ("conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b",
         "maxpool3", "inception4a", "inception4b", "inception4c", "inception4d", "inception4e",
         "maxpool4", "inception5a", "inception5b")
TAPS = tuple(name for name in TRUNK if not name.startswith("maxpool"))
MIN_SIDE = 32     # five stride-2 stages: inception5b is at 1/32 of the input


def build_googlenet() -> nn.Module:
    """An untrained GoogLeNet with the published checkpoint's exact keys and shapes."""
    from torchvision.models import googlenet

    return googlenet(weights=None, aux_logits=True, init_weights=False, transform_input=False)


class GoogLeNetFeatures(nn.Module):
    """A GoogLeNet whose :meth:`encode` returns named trunk activations."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def encode(self, x: torch.Tensor, taps: tuple[str, ...]) -> dict[str, torch.Tensor]:
        """Activations of ``x`` ((B, 3, H, W) RGB in [0, 1]) at the named trunk modules (any
        of :data:`TAPS`); runs only as deep as the deepest tap asked for."""
        unknown = set(taps) - set(TAPS)
        if unknown:
            raise ValueError(f"unknown tap(s) {sorted(unknown)}; choose from {TAPS}")
        out: dict[str, torch.Tensor] = {}
        x = x * 2.0 - 1.0                       # [0, 1] -> the TF port's [-1, 1]
        for name in TRUNK:
            x = getattr(self.net, name)(x)
            if name in taps:
                out[name] = x
                if len(out) == len(taps):
                    break
        return out


def load_googlenet(path: Path, device: torch.device | str = "cpu") -> GoogLeNetFeatures:
    """The GoogLeNet from ``path``, loaded strictly with ``weights_only=True``, eval mode
    (batch norm uses its running statistics), frozen, on ``device``; cached per (device,
    path)."""
    def build() -> GoogLeNetFeatures:
        net = load_strict(build_googlenet(), Path(path), "torchvision GoogLeNet (ImageNet)")
        return GoogLeNetFeatures(net).eval().requires_grad_(False).to(device)

    return cached(("googlenet", str(torch.device(device)), str(Path(path))), build)
