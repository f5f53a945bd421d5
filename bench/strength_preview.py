"""The instant strength preview on this machine: what dragging the slider costs at 512 px.

    .venv/bin/python -m bench.strength_preview [--runs 5] [--side 512]

For MicroAST (real weights) and AdaIN (generated checkpoints: speed ignores the values) it
prints the engine's whole run (encoders and decoder, what a job costs), the decoder-only
re-render in this process, and the slider's real cost: one request's work in a fresh child
from the fork server (:func:`app.isolation.run_isolated`: fork, read the state, load the
decoder, decode, JPEG), plus a full-size saved version and the state file's size. Medians
after a warm-up call; the load average is printed because other work on a shared machine
slows every figure.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from app.engine import strength_preview as sp
from app.engine.feedforward import stylize_single
from app.engine.images import load_image
from app.engine.methods.adain.stylizer import AdaINStylizer
from app.engine.methods.microast.network import WEIGHT_NAMES
from app.engine.methods.microast.stylizer import MicroASTStylizer
from app.engine.options import StyleOptions
from app.engine.weights.store import bundled_dir
from app.isolation import run_isolated, warm_up
from app.jobs.strength_render import StrengthRender, full_version, quick_preview_jpeg
from bench.engines import MEDIA, median_seconds
from tests.support.checkpoints import write_adain_checkpoints

CPU = torch.device("cpu")


def median_ms(call: Callable[[], Any], runs: int) -> float:
    """Median milliseconds of ``runs`` calls after a warm-up (:func:`median_seconds`)."""
    return median_seconds(call, CPU, runs) * 1000


def engine_setup(engine: str, folder: Path) -> tuple[type, dict[str, Path]]:
    if engine == "microast":
        return MicroASTStylizer, {name: bundled_dir() / name for name in WEIGHT_NAMES.values()}
    return AdaINStylizer, write_adain_checkpoints(folder)


def measure(engine: str, side: int, runs: int, folder: Path) -> None:
    stylizer_class, weights = engine_setup(engine, folder)
    content = load_image(MEDIA / "astronaut.png")
    style = load_image(MEDIA / "hubble_deep_field.jpg")
    options = StyleOptions(engine=engine, alpha=0.8, size=side, device="cpu")
    stylizer = stylizer_class([style], options, weights)
    whole = median_ms(lambda: stylize_single(stylizer, content, options), runs)
    stylizer.keep_for_strength_preview()
    result = stylize_single(stylizer, content, options)
    state = sp.capture_state(engine, stylizer, result.size, options)
    assert state is not None
    path = folder / f"{engine}.pt"
    sp.save_state(state, path)
    decode = median_ms(lambda: sp.render(state, engine, 0.4, weights), runs)
    request = StrengthRender(str(path), engine, 0.4,
                             {name: str(p) for name, p in weights.items()})
    quick = median_ms(lambda: run_isolated(quick_preview_jpeg, request), runs)
    factor = sp.preview_factor(state, engine)
    full = median_ms(lambda: run_isolated(full_version, request), max(1, runs // 2))
    print(f"{engine:8s} {result.width}x{result.height}: whole run {whole:5.0f} ms | "
          f"decoder only {decode:5.0f} ms | slider request (child, 1/{factor} side) "
          f"{quick:5.0f} ms | saved version (child, full size) {full:5.0f} ms | "
          f"state {path.stat().st_size / 1e6:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--side", type=int, default=512)
    args = parser.parse_args()
    warm_up()
    print(f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as folder:
        for engine in ("microast", "adain"):
            measure(engine, args.side, args.runs, Path(folder))


if __name__ == "__main__":
    main()
