"""Enhance: how closely a 2x version matches the first picture and how much finer detail it
has, made as a job makes them (tests/support/enhancing.py).

    .venv/bin/python -m bench.enhance [--painterly] [--save FOLDER]

For MicroAST at 512 -> 1024 px (the photo enlarged, run on seamless 512 px tiles), and with
``--painterly`` gatys-lite at 256 -> 512 px (60 iterations, starting from the enlarged
first result). PSNR: the Enhance scaled back down (Lanczos) against the first. Detail: the
mean squared Laplacian of the luma, of the Enhance and of the first merely upscaled
(Lanczos) to the same size; their ratio is how much finer detail Enhance adds. Timings are
wall seconds for the pair (the machine's load average is printed: shared CPUs slow them).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from tests.support.enhancing import first_and_enhanced

CASES = {"microast": (512, {}), "gatys-lite": (256, {"iterations": 60, "preview_every": 0})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--painterly", action="store_true", help="also gatys-lite")
    parser.add_argument("--save", type=Path, help="write first and enhanced PNGs here")
    args = parser.parse_args()
    engines = ["microast", "gatys-lite"] if args.painterly else ["microast"]
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'engine':<12} {'sizes':<14} {'PSNR dB':>8} {'detail':>10} {'upscaled':>10} "
          f"{'ratio':>6} {'seconds':>8}")
    for engine in engines:
        side, values = CASES[engine]
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            figures = first_and_enhanced(Path(folder), engine, side, **values)
            seconds = time.perf_counter() - started
        sizes = f"{max(figures.first.size)} -> {max(figures.enhanced.size)}"
        print(f"{engine:<12} {sizes:<14} {figures.psnr_db:>8.2f} {figures.detail:>10.5f} "
              f"{figures.upscaled_detail:>10.5f} "
              f"{figures.detail / figures.upscaled_detail:>6.1f} {seconds:>8.1f}")
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            figures.first.save(args.save / f"{engine}-first.png")
            figures.enhanced.save(args.save / f"{engine}-enhanced.png")


if __name__ == "__main__":
    main()
