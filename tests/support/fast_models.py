"""Fast-model files and training inputs made on the spot: a seeded network of a given shape
written as a real model file (the product's own writer), generated photos with structure,
and a striped style whose Gram matrices are far from any photo's."""

from __future__ import annotations

import io
from pathlib import Path

import torch
from PIL import Image

from app.engine.methods.trained.model_file import header_for, model_bytes
from app.engine.methods.trained.network import NetworkShape, TransformerNet
from tests.support.images import png_bytes


def seeded_network(width: int = 8, blocks: int = 1, styles: int = 2,
                   seed: int = 0) -> TransformerNet:
    """A network with seeded random weights and distinct per-style scales and shifts."""
    torch.manual_seed(seed)
    net = TransformerNet(NetworkShape(width, blocks, styles))
    for layer in net.norms():
        layer.gamma.data.uniform_(0.5, 1.5)
        layer.beta.data.uniform_(-0.3, 0.3)
    return net.eval()


def model_file_bytes(width: int = 8, blocks: int = 1, styles: int = 2, seed: int = 0) -> bytes:
    """A valid model file of a seeded network."""
    net = seeded_network(width, blocks, styles, seed)
    return model_bytes(net, header_for(net, [f"Stripes {i + 1}" for i in range(styles)],
                                       {"generated": True}))


def write_model(path: Path, **shape: int) -> Path:
    path.write_bytes(model_file_bytes(**shape))
    return path


def photo_tensors(count: int = 4, size: tuple[int, int] = (160, 120)) -> list[torch.Tensor]:
    """``count`` generated photos (gradients, different per seed) as (3, H, W)."""
    from app.engine.images import pil_to_tensor

    return [pil_to_tensor(Image.open(io.BytesIO(png_bytes(size, seed=s))))[0]
            for s in range(count)]


def stripes(side: int = 128, period: float = 3.0) -> Image.Image:
    """A striped style image: strong, regular texture."""
    y, x = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    rgb = torch.stack([(torch.sin(x / period) + 1) / 2, (torch.sin((x + y) / 5.0) + 1) * 0.15,
                       torch.full((side, side), 0.6)])
    array = (rgb.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    return Image.fromarray(array, "RGB")
