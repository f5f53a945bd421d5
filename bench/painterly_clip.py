"""Painterly clips (Ruder et al.'s temporal consistency) against Gatys on every frame alone:
``python -m bench.video --only painterly``.

On ../shared/media/pan_24fps_2s.mp4 and on a generated clip with a scene cut (a pan, a cut
at frame 24 to another photo), at a small size, ``gatys-lite`` with the same settings both
ways: "per-frame" paints every frame from the frame itself with every iteration
(``stabilize=False``); "ours" paints a shot's first frame so and every later frame from the
previous painting, warped, with the temporal loss and a quarter of the iterations. Printed
for the delivered MP4s: the motion-compensated temporal error (previous output warped by the
input's flow, mean absolute difference, cuts excluded), the frames' style loss (ours against
the per-frame stills made with the same settings), and seconds per frame on this machine.

``--figure PATH`` instead writes docs/video.md's picture: two consecutive frames of the
shared clip's first second, per-frame Gatys, ours and the input side by side.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from app.engine.images import fit_size, load_image
from app.engine.options import StyleOptions
from app.video.decoding import iter_frames
from app.video.flicker import flicker_by_region
from app.video.pipeline import stylize_video
from app.video.probe import VideoLimits
from tests.support.clips import PAN_CLIP, cut_frames, media, with_grain, write_clip

ENGINE, STYLE = "gatys-lite", "ihc.png"
TEMPORAL_TARGET, STYLE_TARGET = 0.5, 1.25


def style_losses(frames: list[np.ndarray], options: StyleOptions) -> list[float]:
    """Each frame's (unweighted) style loss against the style, on the engine's network."""
    from app.engine.methods.gatys.losses import style_loss
    from app.engine.methods.gatys.optimise import STYLE_TAPS, StyleTargets, load_feature_net
    from bench.video import weight_paths

    device = torch.device("cpu")
    net = load_feature_net("cd16x", device, weight_paths(ENGINE))
    targets = StyleTargets(net, [load_image(media(STYLE))], options, device)
    values = []
    with torch.no_grad():
        for rgb in frames:
            tensor = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255
            grams = targets.for_content(tensor).grams[0]
            values.append(float(style_loss(net.encode(tensor, STYLE_TAPS), grams)))
    return values


def both_ways(folder: Path, name: str, src: Path, options: StyleOptions,
              trim: tuple[float, float | None] | None = None
              ) -> tuple[dict[bool, list[np.ndarray]], dict[bool, float]]:
    """The clip made ours (True) and per-frame (False): the delivered frames, and seconds
    per frame."""
    from bench.video import make_frame_stylizer

    style = load_image(media(STYLE))
    made, seconds = {}, {}
    for stabilize in (True, False):
        out = folder / f"painterly_{name.split()[0]}_{stabilize}.mp4"
        start = time.perf_counter()
        stylize_video(src, out, make_frame_stylizer([style], options), options.max_side,
                      VideoLimits(), stabilize=stabilize, trim=trim)
        made[stabilize] = list(iter_frames(out))
        seconds[stabilize] = (time.perf_counter() - start) / len(made[stabilize])
    return made, seconds


def measure(folder: Path, name: str, src: Path, options: StyleOptions) -> dict[str, float]:
    """Both runs of one clip; prints its rows."""
    first = next(iter_frames(src))
    size = fit_size(first.shape[1], first.shape[0], options.max_side)
    inputs = list(iter_frames(src, size))
    made, seconds = both_ways(folder, name, src, options)
    ours, naive = (flicker_by_region(inputs, made[k]) for k in (True, False))
    loss_ours, loss_naive = (float(np.mean(style_losses(made[k], options)))
                             for k in (True, False))
    figures = {"temporal": ours.overall / naive.overall, "style": loss_ours / loss_naive}
    print(f"| {name} {size[0]}x{size[1]} | temporal error | {naive.overall:.2f} | "
          f"{ours.overall:.2f} | {figures['temporal']:.2f}x (cuts at {list(ours.cuts)}) |")
    print(f"| | style loss | {loss_naive:.3g} | {loss_ours:.3g} | {figures['style']:.2f}x |")
    print(f"| | seconds per frame ({options.device}) | {seconds[False]:.2f} | "
          f"{seconds[True]:.2f} | {seconds[True] / seconds[False]:.2f}x |", flush=True)
    return figures


def run(folder: Path, side: int, iterations: int, device: str) -> list[str]:
    """The painterly rows; returns the targets missed."""
    options = StyleOptions(engine=ENGINE, max_side=side, iterations=iterations, device=device)
    print(f"## painterly clips: {ENGINE}, style {STYLE}, {side} px, {iterations} iterations "
          f"(a shot's first frame; later frames fewer), device {device}")
    print("| clip | figure | per-frame Gatys | ours | ours/per-frame |\n"
          "| --- | --- | --- | --- | --- |")
    cut = write_clip(folder / "painterly_cut.mp4", with_grain(
        cut_frames("coffee.png", "rocket.jpg", (320, 240), 48, 24), noise=2.0, seed=1),
        tone_hz=440.0)
    missed = []
    for name, src in (("pan (real)", PAN_CLIP), ("cut", cut)):
        figures = measure(folder, name, src, options)
        if figures["temporal"] > TEMPORAL_TARGET:
            missed.append(f"{name} temporal {figures['temporal']:.2f}x > {TEMPORAL_TARGET}x")
        if figures["style"] > STYLE_TARGET:
            missed.append(f"{name} style loss {figures['style']:.2f}x > {STYLE_TARGET}x")
    print("targets: " + ("all met" if not missed else "missed: " + "; ".join(missed)))
    return missed


def figure(folder: Path, path: Path, side: int, iterations: int, device: str,
           at: int = 20) -> None:
    """Frames ``at`` and ``at + 1`` of the shared clip's first second: per-frame Gatys,
    ours and the input side by side, one row each, as a small JPEG."""
    options = StyleOptions(engine=ENGINE, max_side=side, iterations=iterations, device=device)
    made, _ = both_ways(folder, "figure", PAN_CLIP, options, trim=(0.0, 1.0))
    height, width = made[True][0].shape[:2]
    inputs = list(iter_frames(PAN_CLIP, (width, height)))
    rows = [np.concatenate([made[False][i], made[True][i], inputs[i]], axis=1)
            for i in (at, at + 1)]
    Image.fromarray(np.concatenate(rows, axis=0)).save(path, quality=85, optimize=True)
    print(f"wrote {path}")
