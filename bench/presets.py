"""How long each quality choice (Fast, Balanced, Best) takes, in both modes, on this device:
one whole picture from the photo to the result, through the same preset table and options
schema as the create page (``preset_values`` then ``parse_options``).

    .venv/bin/python -m bench.presets [--device cpu|cuda] [--only fast,balanced]

Each figure is one run (the slow ones take minutes on a CPU; a warm-up would double that),
so it includes loading the network (well under a second from the page cache). The photo is
the astronaut scaled to 2048 px (the engines never enlarge a photo, and people upload phone
photos larger than any preset's size). The engines
are the ones the preset picks on a server with the bundled weights only: Best paints with
``gatys`` where the full VGG-19 is installed, else ``gatys-lite``, and the table says which.
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from PIL import Image

from app.cli.base import weight_store
from app.engine.device import pick_device
from app.engine.dispatch import stylize_image
from app.engine.images import load_image
from app.engine.options import parse_options
from app.engine.presets import PRESETS, preset_values
from app.engine.registry import get_engine
from app.engine.weights.store import WeightStore
from bench.engines import MEDIA, sync

PHOTO, PAINTING = "astronaut.png", "brick.png"
PHOTO_SIDE = 2048   # the photo scaled up to a phone photo's size, so every preset reaches its own


def preset_seconds(name: str, mode: str, store: WeightStore, device: torch.device
                   ) -> tuple[str, int, float]:
    """(what the preset ran, output side, seconds) for one picture."""
    values = preset_values(name, mode, lambda engine: store.engine_ready(get_engine(engine)))
    if mode == "dream":
        values["engine"] = "deepdream"
    options = parse_options(dict(values, device=str(device), seed=0, preview_every=0))
    photo = load_image(MEDIA / PHOTO).resize((PHOTO_SIDE, PHOTO_SIDE), Image.LANCZOS)
    styles = [] if mode == "dream" else [load_image(MEDIA / PAINTING)]
    sync(device)
    start = time.perf_counter()
    result = stylize_image(photo, styles, options, store)
    sync(device)
    seconds = time.perf_counter() - start
    if mode == "dream":
        what = f"deepdream, {options.octaves} octaves x {options.dream_iterations} steps"
    elif get_engine(options.engine).iterative:
        what = f"{options.engine}, {options.iterations} iterations, enhance {options.enhance}"
    else:
        what = options.engine
    return what, max(result.size), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--only", default=",".join(PRESETS),
                        help="comma-separated preset names (default: all)")
    args = parser.parse_args()
    device = pick_device(args.device)
    store = weight_store()          # this machine's DREAMGEN_WEIGHTS_* settings, as the CLI
    print(f"device: {device}, load average {os.getloadavg()[0]:.1f}, "
          f"{PHOTO} at {PHOTO_SIDE} px x {PAINTING}")
    print("| quality | mode | ran | output side | seconds |")
    print("| --- | --- | --- | --- | --- |")
    for name in args.only.split(","):
        for mode in ("style", "dream"):
            what, side, seconds = preset_seconds(name.strip(), mode, store, device)
            print(f"| {PRESETS[name.strip()].label} | {mode} | {what} | {side} | "
                  f"{seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
