"""Video benchmark: throughput at 720p and 1080p, speed at 480p, flicker per region of the
delivered file, and painterly clips.

    .venv/bin/python -m bench.video [--only throughput|speed|flicker|painterly|parallel]
        [--device cuda]

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
2. Flicker of the delivered MP4 per region, per-frame vs stabilised, on test clips with a
   static camera and grain, a pan (the shared real clip), a cut and a zoom
   (:mod:`bench.video_flicker`).
3. Painterly clips against Gatys on every frame alone (:mod:`bench.painterly_clip`).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from app.engine.device import pick_device
from app.engine.dispatch import make_frame_stylizer as dispatch_stylizer
from app.engine.images import fit_size, load_image
from app.engine.options import StyleOptions
from app.engine.weights.store import WeightStore
from app.video.decoding import iter_frames
from app.video.pipeline import stylize_video
from app.video.probe import VideoLimits
from bench import parallel_clip
from tests.support.clips import media, pan_frames, write_clip

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the 480p clip")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--side", type=int, default=256, help="output side for flicker runs")
    parser.add_argument("--painterly-side", type=int, default=96,
                        help="output side for the painterly rows")
    parser.add_argument("--iterations", type=int, default=40,
                        help="painterly iterations (a shot's first frame)")
    parser.add_argument("--only", choices=("throughput", "speed", "flicker", "painterly",
                                           "parallel"), help="run one part")
    parser.add_argument("--figure", type=Path, help="only write the painterly figure of "
                        "docs/video.md (at --painterly-side) to this JPEG")
    parser.add_argument("--parallel-seconds", type=float, default=30.0,
                        help="length of the clip one worker and two workers make")
    args = parser.parse_args()
    from bench import painterly_clip, video_flicker

    device = args.device if args.device != "auto" else str(pick_device("auto"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.figure:
            painterly_clip.figure(folder, args.figure, args.painterly_side, args.iterations,
                                  device)
            return
        if args.only in (None, "parallel"):
            parallel_clip.compare(folder, args.parallel_seconds)
        if args.only == "parallel":
            return
        if args.only in (None, "throughput"):
            print(f"## throughput, MicroAST, device {device}")
            throughput(folder, 2.0 if device == "cpu" else 8.0, device)
        if args.only in (None, "speed"):
            speed(folder, args.seconds, StyleOptions(engine="microast", max_side=854,
                                                     device=device))
        if args.only in (None, "flicker"):
            video_flicker.run(folder, "microast", args.side, device)
        if args.only in (None, "painterly"):
            painterly_clip.run(folder, args.painterly_side, args.iterations, device)


if __name__ == "__main__":
    main()
