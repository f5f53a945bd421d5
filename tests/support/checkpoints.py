"""Seeded stand-ins for pytorch-AdaIN's ``vgg_normalised.pth`` and ``decoder.pth``.

The real weights are not on this machine, so tests write checkpoints with the published keys,
shapes and dtype (float32) and seeded random values. The encoder's 1x1 conv holds the real
Caffe preprocessing; each 3x3 conv is He-initialised and then rescaled so its ReLU output has
mean 1 on a fixed calibration image, which is what "normalised" VGG means (Gatys et al.), so
activations neither explode nor vanish with depth. The decoder is He-initialised with its
last conv scaled to give images around mid-grey.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from app.engine.networks.vgg import AdaINDecoder, VGGEncoder

CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def _calibration_image(generator: torch.Generator, side: int = 64) -> torch.Tensor:
    """A smooth random RGB image in [0, 1] (low-frequency noise upsampled)."""
    coarse = torch.rand(1, 3, side // 8, side // 8, generator=generator)
    return nn.functional.interpolate(coarse, size=(side, side), mode="bilinear",
                                      align_corners=False)


def make_vgg_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A normalised-VGG state dict with the published layout and seeded values."""
    generator = torch.Generator().manual_seed(seed)
    net = VGGEncoder()
    with torch.no_grad():
        pre = net[0]
        pre.weight.zero_()
        for rgb in range(3):                  # output channel c is BGR, i.e. input 2 - c
            pre.weight[2 - rgb, rgb] = 255.0
        pre.bias.copy_(-torch.tensor(CAFFE_MEAN_BGR))
        x = pre(_calibration_image(generator))
        for layer in list(net)[1:]:
            if isinstance(layer, nn.Conv2d):
                fan_in = layer.in_channels * 9
                layer.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=generator)
                layer.bias.normal_(0.0, 0.05, generator=generator)
                out = torch.relu(layer(x))
                scale = 1.0 / out.mean().clamp_min(1e-6)
                layer.weight.mul_(scale)
                layer.bias.mul_(scale)
            x = layer(x)
    return {k: v.float().contiguous() for k, v in net.state_dict().items()}


def make_decoder_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """An AdaIN decoder state dict with the published layout and seeded values."""
    generator = torch.Generator().manual_seed(seed + 1)
    net = AdaINDecoder()
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        for conv in convs:
            fan_in = conv.in_channels * 9
            conv.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=generator)
            conv.bias.zero_()
        convs[-1].weight.mul_(0.1)
        convs[-1].bias.fill_(0.5)
    return {k: v.float().contiguous() for k, v in net.state_dict().items()}


def write_adain_checkpoints(folder: Path, seed: int = 0) -> dict[str, Path]:
    """Write ``folder/adain/vgg_normalised.pth`` and ``folder/adain/decoder.pth``; return
    ``{"adain/vgg_normalised.pth": path, "adain/decoder.pth": path}`` (registry names, the
    shape ``AdaINStylizer(weights=...)`` and ``run_gatys(weights=...)`` take)."""
    target = Path(folder) / "adain"
    target.mkdir(parents=True, exist_ok=True)
    paths = {"adain/vgg_normalised.pth": target / "vgg_normalised.pth",
             "adain/decoder.pth": target / "decoder.pth"}
    torch.save(make_vgg_state(seed), paths["adain/vgg_normalised.pth"])
    torch.save(make_decoder_state(seed), paths["adain/decoder.pth"])
    return paths


def make_googlenet_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict in the exact layout of torchvision's ``googlenet-1378be20.pth``: the
    GoogLeNet with both auxiliary heads, float32 weights and batch-norm buffers, int64
    ``num_batches_tracked``. Convs and linears are He-initialised from ``seed``; each batch
    norm's running statistics are those of a calibration image (one pass in training mode
    with ``momentum=None``), so in eval mode every layer's output is roughly normalised and
    activations neither explode nor vanish with depth, as in the trained network."""
    from app.engine.networks.googlenet import build_googlenet

    generator = torch.Generator().manual_seed(seed + 2)
    net = build_googlenet()
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                module.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=generator)
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, nn.BatchNorm2d):
                module.momentum = None            # running stats := this batch's stats
                module.weight.fill_(1.0)
                module.bias.normal_(0.0, 0.1, generator=generator)
        net.train()
        net(_calibration_image(generator, side=96) * 2.0 - 1.0)   # the TF port's [-1, 1]
    return {k: (v.contiguous() if v.dtype == torch.int64 else v.float().contiguous())
            for k, v in net.state_dict().items()}


def write_googlenet_checkpoint(folder: Path, seed: int = 0) -> dict[str, Path]:
    """Write ``folder/googlenet/googlenet-1378be20.pth`` (a plain state dict, as published);
    return ``{"googlenet/googlenet-1378be20.pth": path}``."""
    path = Path(folder) / "googlenet" / "googlenet-1378be20.pth"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(make_googlenet_state(seed), path)
    return {"googlenet/googlenet-1378be20.pth": path}
