"""Video benchmark: throughput at 720p and 1080p, speed at 480p, and flicker, naive vs
stabilised.

    .venv/bin/python -m bench.video [--only throughput|speed|flicker|parallel] [--device cuda]

P. Parallel segments: a generated 30 s clip at 256 px made by one worker process and by two
   (:mod:`bench.parallel_clip`): seconds, frames per second and the ratio.

0. Throughput: generated 1280x720 and 1920x1080 clips through ``stylize_video`` with
   MicroAST, at 512 px output and at full size: frames per second end to end and the share of
   time each stage spent (decode, optical flow, stylise, blend, encode and the final join run
   in parallel threads, so the shares are of their sum).

1. Speed: a generated 854x480 clip (a pan across a photo, with a tone) through
   ``stylize_video`` with MicroAST, stabilised and not: frames per second end to end, and the
   seconds each stage spent (stages run in parallel threads, so they add up to more than the
   wall time).
2. Flicker (``temporal_instability``, grey levels) and sharpness (variance of the Laplacian) of
   per-frame ("naive") vs flow-blended ("ours") output, on ../shared/media/pan_24fps_2s.mp4
   and on a generated static-camera clip (a still photo with sensor noise and a slow lighting
   change). Each is measured twice: on the frames the engine and the blend produce ("frames"),
   and on the delivered MP4 after H.264 ("file"), which hides part of the flicker.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from app.engine.dispatch import make_frame_stylizer as dispatch_stylizer
from app.engine.images import fit_size, load_image
from app.engine.options import StyleOptions
from app.engine.weights.store import WeightStore
from app.video.decoding import iter_frames
from app.video.pipeline import stylize_video
from app.video.probe import VideoLimits
from app.video.flicker import sharpness, temporal_instability
from app.video.flow import FlowTracker
from app.video.temporal import TemporalBlender
from bench import parallel_clip
from tests.video.clips import PAN_CLIP, media, pan_frames, static_frames, write_clip

STYLE = "ihc.png"


def make_frame_stylizer(styles, options: StyleOptions):
    """The engine named by ``options`` on this machine's weights (bundled ones included)."""
    from app.settings import get_settings

    return dispatch_stylizer(styles, options, WeightStore.from_settings(get_settings()))


def weight_paths(engine: str) -> dict:
    """The verified weight paths of ``engine`` on this machine."""
    from app.engine.registry import get_engine
    from app.settings import get_settings

    return WeightStore.from_settings(get_settings()).engine_paths(get_engine(engine))


def speed(folder: Path, seconds: float, options: StyleOptions,
          variants: tuple[bool, ...] = (False, True)) -> dict[bool, float]:
    """Frames per second end to end at 480p (keyed by ``stabilize``), with the time split per
    stage printed."""
    count = int(seconds * 24)
    src = clip_480p(folder, count)
    style = load_image(media(STYLE))
    print(f"## speed: {count} frames of 854x480 at 24 fps, MicroAST, {torch.get_num_threads()} "
          f"torch threads, device {options.device}")
    fps = {}
    for stabilize in variants:
        timings: dict[str, float] = {}
        start = time.perf_counter()
        stylize_video(src, folder / "out480.mp4", make_frame_stylizer([style], options),
                      options.max_side, VideoLimits(), stabilize=stabilize, timings=timings)
        wall = time.perf_counter() - start
        fps[stabilize] = count / wall
        split = " ".join(f"{k} {timings.get(k, 0):.2f}s" for k in
                         ("decode", "flow", "stylise", "blend", "encode"))
        print(f"{'ours ' if stabilize else 'naive'}: {count / wall:5.2f} fps end to end "
              f"({wall:.1f}s wall; per stage: {split})")
    return fps


STAGES = ("decode", "flow", "stylise", "blend", "encode", "join")


def throughput(folder: Path, seconds: float, device: str,
               full_size: bool = True) -> list[tuple[str, float]]:
    """Frames per second for 720p and 1080p inputs at 512 px and (``full_size``) at their own
    size; prints the share of time in each stage. Returns (label, frames/s) rows."""
    count = max(2, int(seconds * 24))
    style = load_image(media(STYLE))
    rows = []
    for width, height in ((1280, 720), (1920, 1080)):
        src = clip_480p(folder, count, (width, height))
        for side in (512, width) if full_size else (512,):
            options = StyleOptions(engine="microast", max_side=side, device=device)
            stylizer = make_frame_stylizer([style], options)
            timings: dict[str, float] = {}
            start = time.perf_counter()
            stylize_video(src, folder / "out.mp4", stylizer, side, VideoLimits(),
                          timings=timings)
            wall = time.perf_counter() - start
            busy = sum(timings.get(k, 0.0) for k in STAGES) or 1.0
            shares = " ".join(f"{k} {timings.get(k, 0.0) / busy:.0%}" for k in STAGES)
            label = f"{height}p in, {'full size' if side == width else f'{side} px'} out"
            rows.append((label, count / wall))
            print(f"{label:<26} {count / wall:6.2f} frames/s ({count} frames, {wall:.1f} s; "
                  f"time per stage: {shares})", flush=True)
    return rows


def clip_480p(folder: Path, count: int, size: tuple[int, int] = (854, 480)) -> Path:
    """A generated 24 fps clip of ``count`` frames at ``size`` (default 854x480; a pan
    across a photo, a tone)."""
    return write_clip(folder / f"{size[1]}p_{count}.mp4",
                      pan_frames("hubble_deep_field.jpg", size, count), tone_hz=440.0)


def sequential_fps(src: Path, dst: Path, options: StyleOptions) -> float:
    """The baseline: one thread, decode -> stylise (style encoded for every frame, fp32) ->
    encode, frame by frame, no stabiliser. Frames per second end to end."""
    import av

    style = load_image(media(STYLE))
    start, count = time.perf_counter(), 0
    first = next(iter_frames(src))
    size = fit_size(first.shape[1], first.shape[0], options.max_side)
    with av.open(str(dst), mode="w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for rgb in iter_frames(src, size):
            tensor = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None]
            result = make_frame_stylizer([style], options).stylize_frames(tensor.float() / 255)
            array = result[0].mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
            out.mux(stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")))
            count += 1
        out.mux(stream.encode(None))
    return count / (time.perf_counter() - start)


def frames_run(frames: list[np.ndarray], style, options: StyleOptions,
               stabilize: bool) -> list[np.ndarray]:
    """The pipeline's compute path on frames in memory (no H.264 in between)."""
    stylizer = make_frame_stylizer([style], options)
    tracker, blender, outputs = FlowTracker(), TemporalBlender(), []
    for rgb in frames:
        step = tracker.step(rgb)
        tensor = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float().div(255)
        with torch.inference_mode():
            out = stylizer.stylize_frames(tensor.to(stylizer.device))[0]
            out = blender.blend(out, step) if stabilize else out
        outputs.append(out.float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0)
                       .cpu().numpy())
    return outputs


def flicker(folder: Path, name: str, src: Path, options: StyleOptions) -> None:
    style = load_image(media(STYLE))
    first = next(iter_frames(src))
    size = fit_size(first.shape[1], first.shape[0], options.max_side)
    inputs = list(iter_frames(src, size))
    results = {}
    for stabilize in (False, True):
        in_memory = frames_run(inputs, style, options, stabilize)
        out = folder / f"{name}_{stabilize}.mp4"
        stylize_video(src, out, make_frame_stylizer([style], options), options.max_side,
                      VideoLimits(), stabilize=stabilize)
        results[stabilize] = (in_memory, list(iter_frames(out)))
    for index, where in enumerate(("frames", "file")):
        naive = temporal_instability(inputs, results[False][index])
        ours = temporal_instability(inputs, results[True][index])
        sharp_naive, sharp_ours = (sharpness(results[k][index]) for k in (False, True))
        print(f"{name:>7} {size[0]}x{size[1]} {where:>6}: flicker naive {naive.output:5.2f} "
              f"ours {ours.output:5.2f} (ratio {ours.output / naive.output:.2f}; input "
              f"{naive.input:.2f}, {naive.reliable_fraction:.0%} reliable) | sharpness naive "
              f"{sharp_naive:6.0f} ours {sharp_ours:6.0f} (ratio {sharp_ours / sharp_naive:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the 480p clip")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--side", type=int, default=320, help="output side for flicker runs")
    parser.add_argument("--only", choices=("throughput", "speed", "flicker", "parallel"),
                        help="run one part")
    parser.add_argument("--parallel-seconds", type=float, default=30.0,
                        help="length of the clip one worker and two workers make")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.only in (None, "parallel"):
            parallel_clip.compare(folder, args.parallel_seconds)
        if args.only == "parallel":
            return
        if args.only in (None, "throughput"):
            print(f"## throughput, MicroAST, device {args.device}")
            throughput(folder, 2.0 if args.device == "cpu" or not torch.cuda.is_available()
                       else 8.0, args.device)
        if args.only == "throughput":
            return
        if args.only != "flicker":
            speed(folder, args.seconds, StyleOptions(engine="microast", max_side=854,
                                                     device=args.device))
        if args.only == "speed":
            return
        print(f"## flicker (grey levels, lower is steadier), MicroAST, style {STYLE}")
        options = StyleOptions(engine="microast", max_side=args.side, device=args.device)
        flicker(folder, "pan", PAN_CLIP, options)
        static = write_clip(folder / "static.mp4",
                            static_frames("chelsea.png", (320, 240), 48, noise=4.0, light=0.05))
        flicker(folder, "static", static, options)


if __name__ == "__main__":
    main()
