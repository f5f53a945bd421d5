"""The engines the training benchmark compares a trained model with, on one photo each.

- AdaIN's published decoder cannot be downloaded on these machines, so its *quality* is
  measured with :func:`cd_adain`: the AdaIN transform (Huang & Belongie 2017, Eq. 8) at
  relu4_1 of the Collaborative Distillation 16x-pruned encoder ``4SE`` with its own trained
  decoder ``4SD`` (Wang et al. 2020; both real weights in ``../shared/weights/cd16x_wct``).
  AdaIN's *speed* is measured on the real :class:`AdaINStylizer` with generated checkpoints
  in the published layout (speed does not depend on weight values; ``bench.engines``).
- MicroAST and Gatys (``gatys-lite``, the pruned VGG-19) run through the engines' front
  door (:func:`app.engine.dispatch.stylize_image`) on the real weights.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from app.engine.features import adain
from app.engine.images import pil_to_tensor, tensor_to_pil
from app.engine.networks.pruned_vgg import PrunedVGG

CD16X = Path(__file__).resolve().parents[1] / ".." / "shared" / "weights" / "cd16x_wct"
# 4SD: relu4_1 (128) back to RGB, mirroring the encoder (an upsampling before each stage)
DECODER = (("conv41", 128, 64, True), ("conv34", 64, 64, False), ("conv33", 64, 64, False),
           ("conv32", 64, 64, False), ("conv31", 64, 32, True), ("conv22", 32, 32, False),
           ("conv21", 32, 16, True), ("conv12", 16, 16, False), ("conv11", 16, 3, False))


class Decoder4(nn.Module):
    """The ``4SD`` decoder: reflection-padded 3x3 convolutions with ReLUs, 2x nearest
    upsampling after conv41, conv31 and conv21 (the inverse of the encoder's pools)."""

    def __init__(self) -> None:
        super().__init__()
        for name, c_in, c_out, _ in DECODER:
            self.add_module(name, nn.Conv2d(c_in, c_out, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name, _, _, upsample in DECODER:
            x = getattr(self, name)(F.pad(x, (1, 1, 1, 1), mode="reflect"))
            if name != "conv11":
                x = F.relu(x)
            if upsample:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
        return x


def _state(name: str) -> dict[str, torch.Tensor]:
    return torch.load(CD16X / name, map_location="cpu", weights_only=True)["model"]


def cd_adain_networks() -> tuple[PrunedVGG, Decoder4]:
    """``4SE`` (up to relu4_1; the pruned VGG's deeper layers are absent from it and unused)
    and ``4SD``, both loaded with every one of their own keys."""
    encoder, decoder = PrunedVGG(), Decoder4()
    missing, unexpected = encoder.load_state_dict(_state("4SE.pth"), strict=False)
    assert not unexpected and all(k.split(".")[0] in {"conv42", "conv43", "conv44", "conv51",
                                                      "conv51_aux"} for k in missing), missing
    decoder.load_state_dict(_state("4SD.pth"))
    return encoder.eval().requires_grad_(False), decoder.eval().requires_grad_(False)


@torch.no_grad()
def cd_adain(nets: tuple[PrunedVGG, Decoder4], content: Image.Image,
             style: Image.Image) -> Image.Image:
    """AdaIN at relu4_1 on the 16x-pruned encoder/decoder pair: the decoder paints the content
    features renormalised to the style's mean and deviation."""
    encoder, decoder = nets
    c = encoder.encode(pil_to_tensor(content), ("relu4_1",))["relu4_1"]
    s = encoder.encode(pil_to_tensor(style), ("relu4_1",))["relu4_1"]
    out = decoder(adain(c, s))
    return tensor_to_pil(out[..., :content.height, :content.width].clamp(0, 1)[0])


@torch.no_grad()
def reconstruction_error(nets: tuple[PrunedVGG, Decoder4], photo: Image.Image) -> float:
    """Mean absolute error of encoding then decoding ``photo`` (a check that the pair is
    wired as trained: a few hundredths, where a wrong wiring gives tenths)."""
    encoder, decoder = nets
    x = pil_to_tensor(photo)
    out = decoder(encoder.encode(x, ("relu4_1",))["relu4_1"])[..., :x.shape[-2], :x.shape[-1]]
    return float((out.clamp(0, 1) - x).abs().mean())
