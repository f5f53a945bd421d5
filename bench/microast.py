"""MicroAST speed on this machine (style encoded once and cached) and, with
``--example PATH``, the README example (astronaut x ihc, 384 px, JPEG q80).

    .venv/bin/python -m bench.microast [--device cpu] [--example docs/img/microast-example.jpg]

"ours" is :class:`~app.engine.methods.microast.stylizer.MicroASTStylizer` with the style code cached
(channels_last); "naive" is fresh fp32 networks in the default layout, eager, with the 512 px
style encoded on every call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Callable

import torch

from app.engine.device import pick_device
from app.engine.images import load_image, pil_to_tensor, resize_to_fit, tensor_to_pil
from app.engine.methods.microast.network import (
    WEIGHT_NAMES,
    MicroASTNetworks,
    MicroDecoder,
    MicroEncoder,
    Modulator,
    decode,
    encode_style,
    prepare_style,
)
from app.engine.methods.microast.stylizer import MicroASTStylizer
from app.engine.options import StyleOptions
from app.engine.weights.checkpoints import load_strict
from app.engine.weights.store import bundled_dir

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
MEDIA = SHARED / "media"
WEIGHTS = {name: bundled_dir() / name for name in WEIGHT_NAMES.values()}   # registry-keyed


def microast_stylizer(device: torch.device | str, style: str = "hubble_deep_field.jpg",
                      **options) -> MicroASTStylizer:
    """A stylizer on the real (bundled) weights with ``style`` cached."""
    return MicroASTStylizer([load_image(MEDIA / style)],
                            StyleOptions(device=str(device), **options), WEIGHTS)


def naive_microast(device: torch.device | str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The baseline: fresh fp32 networks in the default memory layout, eager, the style
    image encoded on every call."""
    nets = MicroASTNetworks(MicroEncoder(), MicroEncoder(), Modulator(), MicroDecoder())
    for part, name in WEIGHT_NAMES.items():
        load_strict(getattr(nets, part), WEIGHTS[name], "MicroAST")
        getattr(nets, part).eval().to(device)
    style = prepare_style(load_image(MEDIA / "hubble_deep_field.jpg")).to(device)

    def run(content: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            shallow, deep = nets.content_encoder(content.to(device))
            return decode(nets.decoder, deep, encode_style(nets, style)).clamp(0, 1)

    return run


def time_stylizer(device: str, runs: int) -> None:
    content = pil_to_tensor(resize_to_fit(load_image(MEDIA / "astronaut.png"), 512))
    microast_stylizer(device)                                    # load the networks
    start = time.perf_counter()
    stylizer = microast_stylizer(device)
    encode_ms = (time.perf_counter() - start) * 1000
    stylizer.stylize_frames(content)                             # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        stylizer.stylize_frames(content)
        if stylizer.device.type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000)
    print(f"device {stylizer.device}, {torch.get_num_threads()} threads, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"style encode (512 px): {encode_ms:.0f} ms")
    print(f"512x512 frame, style cached: median {statistics.median(times):.0f} ms, "
          f"best {min(times):.0f} ms over {runs} runs")


def write_example(path: Path) -> None:
    content = pil_to_tensor(resize_to_fit(load_image(MEDIA / "astronaut.png"), 384))
    stylizer = microast_stylizer("cpu", style="ihc.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    tensor_to_pil(stylizer.stylize_frames(content)).save(path, quality=80, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--example", type=Path, help="also write the README example JPEG here")
    args = parser.parse_args()
    time_stylizer(str(pick_device(args.device)), args.runs)
    if args.example:
        write_example(args.example)


if __name__ == "__main__":
    main()
