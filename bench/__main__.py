"""One benchmark for the whole product, on whatever device is here, printed as one table.

    .venv/bin/python -m bench            # about 4-5 minutes on the 2-core CPU
    .venv/bin/python -m bench --quick    # about 90 s
    .venv/bin/python -m bench --device cuda

Every figure is "ours" against a naive baseline measured in the same run: plain eager fp32,
default memory layout, the style encoded on every call, the whole image at once, one thread
for video. "gain" is how many times better ours is (baseline/ours for times and memory,
ours/baseline for rates). Timings are medians after a warm-up call; the load average is
printed because other work on a shared machine slows every figure. AdaIN and Deep Dream's
GoogLeNet run on generated checkpoints (speed does not depend on the weights' values),
MicroAST and the pruned VGG-19 on the real weights (../shared/weights, bundled).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from app.engine.device import pick_device
from app.engine.feedforward import stylize_single
from app.engine.images import load_image
from app.engine.options import StyleOptions
from bench import deepdream, engines, microast, video

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Row:
    figure: str
    ours: float
    baseline: float
    unit: str
    higher_is_better: bool = False

    def gain(self) -> float:
        if not self.ours or not self.baseline or self.baseline != self.baseline:
            return float("nan")
        return self.ours / self.baseline if self.higher_is_better else self.baseline / self.ours

    def line(self) -> str:
        base = "–" if self.baseline != self.baseline else f"{self.baseline:,.2f}"
        gain = self.gain()
        gain_text = "–" if gain != gain else f"{gain:.2f}x"
        return f"| {self.figure} | {self.ours:,.2f} | {base} | {gain_text} |"


class Table:
    def __init__(self) -> None:
        self.rows: list[Row] = []

    def add(self, figure: str, ours: float, baseline: float = float("nan"), unit: str = "",
            higher_is_better: bool = False) -> None:
        row = Row(f"{figure} ({unit})" if unit else figure, ours, baseline, unit,
                  higher_is_better)
        self.rows.append(row)
        print(f"  {row.line()}   load {os.getloadavg()[0]:.1f}", flush=True)

    def print(self) -> None:
        print("\n| figure | ours | naive baseline | gain |\n| --- | --- | --- | --- |")
        for row in self.rows:
            print(row.line())


def adain_rows(table: Table, weights: dict[str, Path], device: torch.device, quick: bool) -> None:
    gpu = device.type == "cuda"
    ours, naive = engines.adain_stylizer(weights, device), engines.naive_adain(weights, device)
    sides = [256, 512] if quick else [256, 512, 1024]
    for side in sides:
        frame = torch.rand(1, 3, side, side)
        big = side >= 1024 and not gpu
        repeats = 1 if quick or big else (10 if gpu else 3)
        a = engines.median_seconds(lambda: ours.stylize_frames(frame), device, repeats, not big)
        b = engines.median_seconds(lambda: naive(frame), device, repeats, not big)
        table.add(f"AdaIN {side} px, batch 1", a * 1e3, b * 1e3, "ms/image")
        if gpu:
            batch = torch.rand(8, 3, side, side)
            a8 = engines.median_seconds(lambda: ours.stylize_frames(batch), device, repeats) / 8
            table.add(f"AdaIN {side} px, batch 8 (fp16, channels_last)", a8 * 1e3, b * 1e3,
                      "ms/image")
    if gpu:
        compiled = engines.adain_stylizer(weights, device, compiled=True)
        batch = torch.rand(8, 3, 512, 512, device=device)
        start = time.perf_counter()
        compiled.stylize_frames(batch)
        engines.sync(device)
        table.add("AdaIN torch.compile: first call incl. compiling", time.perf_counter() - start,
                  unit="s")
        frame = torch.rand(1, 3, 512, 512)
        naive_s = engines.median_seconds(lambda: naive(frame), device, 10)
        a8 = engines.median_seconds(lambda: compiled.stylize_frames(batch), device, 20) / 8
        table.add("AdaIN 512 px, batch 8, compiled + CUDA graphs", 1 / a8, 1 / naive_s,
                  "images/s", higher_is_better=True)


def microast_rows(table: Table, device: torch.device, quick: bool) -> None:
    ours, naive = microast.microast_stylizer(device), microast.naive_microast(device)
    for side in [512] if quick else [512, 1024]:
        frame = torch.rand(1, 3, side, side)
        repeats = 3 if quick else 5
        a = engines.median_seconds(lambda: ours.stylize_frames(frame), device, repeats)
        b = engines.median_seconds(lambda: naive(frame), device, repeats)
        table.add(f"MicroAST {side} px, batch 1", a * 1e3, b * 1e3, "ms/image")


COLD_START = """
import time; start = time.perf_counter()
from app.engine.feedforward import stylize_single
from app.engine.options import StyleOptions
from app.engine.images import load_image
from bench.microast import MEDIA, microast_stylizer
stylizer = microast_stylizer("{device}")
stylize_single(stylizer, load_image(MEDIA / "astronaut.png"), StyleOptions(max_side=512))
print(time.perf_counter() - start)
"""


def cold_start_row(table: Table, device: torch.device) -> None:
    """A new job (style encode + one 512 px image): in a fresh process, and in this warm one."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", COLD_START.format(device=device)], cwd=REPO,
                   check=True, capture_output=True)
    cold = time.perf_counter() - start
    content = load_image(microast.MEDIA / "astronaut.png")

    def warm_job() -> None:
        stylize_single(microast.microast_stylizer(device), content, StyleOptions(max_side=512))

    warm = engines.median_seconds(warm_job, device, 3)
    table.add("MicroAST new job 512 px: warm worker vs fresh process (start, import, load)",
              warm, cold, "s")


def gatys_rows(table: Table, weights: dict[str, Path], device: torch.device, quick: bool) -> None:
    gpu = device.type == "cuda"
    for side in [256] if quick else [256, 512]:
        iterations = 10 if gpu else (2 if side > 256 or quick else 3)
        seconds = engines.gatys_seconds_per_iteration(weights, device, side, iterations)
        table.add(f"Gatys {side} px (VGG-19, L-BFGS)", seconds, unit="s/iteration")
    if quick:
        return
    side, iterations = (2048, 60) if gpu else (512, 4)
    plain = engines.gatys_total_seconds(weights, device, side, iterations, False)
    pyramid = engines.gatys_total_seconds(weights, device, side, iterations, True)
    table.add(f"Gatys {side} px, {iterations} iterations: coarse-to-fine vs plain", pyramid,
              plain, "s")


def deepdream_rows(table: Table, folder: Path, device: torch.device, quick: bool) -> None:
    """Whole default dreams (bench/deepdream.py); no naive baseline to set against."""
    for figure, seconds in deepdream.rows(device, quick, folder):
        table.add(figure, seconds, unit="s")


def video_rows(table: Table, device: torch.device, quick: bool) -> None:
    options = StyleOptions(engine="microast", max_side=854, device=str(device))
    count = 12 if quick else (96 if device.type == "cuda" else 24)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        fps = video.speed(folder, count / 24, options, variants=(True,))[True]
        naive = video.sequential_fps(video.clip_480p(folder, count), folder / "naive.mp4",
                                     options)
    table.add("video 854x480 MicroAST end to end, stabilised (threaded pipeline vs one "
              "thread, style per frame)", fps, naive, "frames/s", higher_is_better=True)
    with tempfile.TemporaryDirectory() as tmp:
        for label, fps in video.throughput(Path(tmp), 1.0 if quick else 2.0, str(device),
                                           full_size=not quick):
            table.add(f"video {label}, MicroAST end to end", fps, unit="frames/s",
                      higher_is_better=True)
    if device.type != "cuda":
        return
    with tempfile.TemporaryDirectory() as tmp:    # real time is 24-30 frames/s
        src = video.clip_480p(Path(tmp), 96, (1920, 1080))
        start = time.perf_counter()
        options = StyleOptions(engine="microast", max_side=1920, device=str(device))
        stylizer = video.make_frame_stylizer([load_image(microast.MEDIA / "ihc.png")], options)
        video.stylize_video(src, Path(tmp) / "out.mp4", stylizer, 1920, video.VideoLimits())
        table.add("video 1920x1080 MicroAST end to end, stabilised",
                  96 / (time.perf_counter() - start), unit="frames/s", higher_is_better=True)


def tiled_rows(table: Table, folder: Path, device: torch.device, quick: bool) -> None:
    """Tiled (1024 px tiles, whole-image statistics) against the whole image at once, each in
    a fresh process so the peak memory of one run is not hidden by an earlier one."""
    gpu = device.type == "cuda"
    cases = [("MicroAST", 2160, 3840)]
    if quick:
        cases = [("MicroAST", 1080, 1920)]
    else:
        cases.append(("AdaIN", *((2160, 3840) if gpu else (1080, 1920))))
    for name, height, width in cases:
        figures = {}
        for mode in ("tiled", "whole"):
            spec = f"{name}:{height}:{width}:{mode}:{device}:{folder}"
            result = subprocess.run([sys.executable, "-m", "bench", "--measure-once", spec],
                                    cwd=REPO, check=True, capture_output=True, text=True)
            figures[mode] = [float(v) for v in result.stdout.split()[-2:]]
        what = f"{name} {width}x{height}, 1024 px tiles vs whole image"
        table.add(f"{what}: time", figures["tiled"][0], figures["whole"][0], "s")
        table.add(f"{what}: peak memory", figures["tiled"][1], figures["whole"][1], "MB")


def measure_once(spec: str) -> None:
    """Child process of :func:`tiled_rows`: one stylisation; prints seconds and the peak
    memory it added (CUDA allocator peak, or on the CPU the peak resident set, VmHWM, reset
    just before the run, over the resident set then). ``DIR`` holds the AdaIN checkpoints."""
    name, height, width, mode, device_name, folder = spec.split(":", 5)
    device = torch.device(device_name)
    weights = {name: Path(folder) / name for name in ("adain/vgg_normalised.pth",
                                                      "adain/decoder.pth")}
    stylizer = (microast.microast_stylizer(device) if name == "MicroAST" else
                engines.adain_stylizer(weights, device))
    frame = torch.rand(1, 3, int(height), int(width))
    engines.sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    else:
        Path("/proc/self/clear_refs").write_text("5")   # resets VmHWM, the peak resident set
    base = engines.rss_bytes() if device.type == "cpu" else torch.cuda.memory_allocated()
    start = time.perf_counter()
    if mode == "tiled":
        stylizer.stylize_tiled(frame, tile_side=1024)
    else:
        stylizer.stylize_frames(frame)
    engines.sync(device)
    seconds = time.perf_counter() - start
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() - base
    else:
        status = Path("/proc/self/status").read_text()
        peak = int(status.split("VmHWM:")[1].split()[0]) * 1024 - base
    print(f"{seconds:.3f} {max(0, peak) / 2**20:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats (~90 s)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--measure-once", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_once:
        return measure_once(args.measure_once)
    device = pick_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    started = time.perf_counter()
    print(f"# bench on {device} ({name}), {torch.get_num_threads()} torch threads, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, "
          f"torch {torch.__version__}{', quick' if args.quick else ''}", flush=True)
    table = Table()
    with tempfile.TemporaryDirectory() as folder:
        weights = engines.adain_weights(Path(folder))
        adain_rows(table, weights, device, args.quick)
        microast_rows(table, device, args.quick)
        cold_start_row(table, device)
        gatys_rows(table, weights, device, args.quick)
        deepdream_rows(table, Path(folder), device, args.quick)
        video_rows(table, device, args.quick)
        tiled_rows(table, Path(folder), device, args.quick)
    table.print()
    print(f"\n{time.perf_counter() - started:.0f} s in all; load average at the end "
          f"{os.getloadavg()[0]:.2f} (other work on the machine slows every figure)")


if __name__ == "__main__":
    main()
