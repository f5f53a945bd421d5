"""Time MicroAST per 512 px image on this machine (style encoded once and cached) and,
with ``--example PATH``, write the README example (astronaut x ihc, 384 px, JPEG q80).

    .venv/bin/python -m tests.microast.bench_microast [--device cpu] [--example docs/img/microast-example.jpg]

Not a test (pytest does not collect it): timings belong in docs, not in assertions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

from app.engine.api import StyleOptions
from app.engine.images import load_image, pil_to_tensor, resize_to_fit, tensor_to_pil
from app.engine.microast import WEIGHT_NAMES, MicroASTStylizer

from .conftest import MEDIA, WEIGHTS

WEIGHT_PATHS = {part: WEIGHTS / name for part, name in WEIGHT_NAMES.items()}


def time_stylizer(device: str, runs: int) -> None:
    content = pil_to_tensor(resize_to_fit(load_image(MEDIA / "astronaut.png"), 512))
    style = load_image(MEDIA / "hubble_deep_field.jpg")
    MicroASTStylizer([style], StyleOptions(device=device), WEIGHT_PATHS)   # load the networks
    start = time.perf_counter()
    stylizer = MicroASTStylizer([style], StyleOptions(device=device), WEIGHT_PATHS)
    encode_ms = (time.perf_counter() - start) * 1000
    stylizer.stylize_frames(content)                                       # warm-up
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
    stylizer = MicroASTStylizer([load_image(MEDIA / "ihc.png")], StyleOptions(device="cpu"),
                                WEIGHT_PATHS)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensor_to_pil(stylizer.stylize_frames(content)).save(path, quality=80, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--example", type=Path, help="also write the README example JPEG here")
    args = parser.parse_args()
    time_stylizer(args.device, args.runs)
    if args.example:
        write_example(args.example)


if __name__ == "__main__":
    main()
