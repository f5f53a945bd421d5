"""Flicker of the delivered MP4 per region, per-frame ("naive") vs stabilised ("ours"), on
test clips that have what real footage has: ``python -m bench.video --only flicker``.

Clips (320x240, 2 s at 24 fps, a 440 Hz AAC tone with its priming packet):

- ``static+object``: a static camera on a photo with sensor grain, a disc crossing it;
- ``pan (real)``: ../shared/media/pan_24fps_2s.mp4;
- ``cut``: a pan, a hard cut at frame 24 to another photo panned the other way, grain;
- ``zoom``: a zoom into a photo, 1.5 % closer every frame, grain.

Both runs go through ``stylize_video`` with segments of 0.5 s (joins at frames 12, 24, 36)
and are measured on the delivered file (:func:`app.video.flicker.flicker_by_region`):
overall, static and moving pixels, the frames after a cut, and the join pairs against
their neighbours. The sound of ours is compared packet for packet with the input's.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import av

from app.engine.images import fit_size, load_image
from app.engine.options import StyleOptions
from app.video.decoding import iter_frames
from app.video.flicker import RegionFlicker, flicker_by_region
from app.video.pipeline import stylize_video
from app.video.probe import VideoLimits
from tests.support.clips import (PAN_CLIP, cut_frames, media, moving_object_frames, with_grain,
                               write_clip, zoom_frames)

SIZE, COUNT, FPS = (320, 240), 48, 24
SEGMENT_S = 0.5
TARGETS = {"overall": 0.5, "static": 0.5}     # ours / naive, at most
JOIN_TARGET = 1.5                            # join pairs / their neighbours, at most


def test_clips(folder: Path) -> dict[str, Path]:
    """The clips, written into ``folder`` (the real one is read where it is)."""
    def clip(name: str, frames) -> Path:
        return write_clip(folder / f"{name}.mp4", frames, fps=FPS, tone_hz=440.0)

    return {
        "static+object": clip("static", with_grain(moving_object_frames(
            "chelsea.png", "coffee.png", SIZE, COUNT, step=5), noise=3.0)),
        "pan (real)": PAN_CLIP,
        "cut": clip("cut", with_grain(cut_frames("coffee.png", "rocket.jpg", SIZE, COUNT, 24),
                                      noise=2.0, seed=1)),
        "zoom": clip("zoom", with_grain(zoom_frames("astronaut.png", SIZE, COUNT), noise=2.0,
                                        seed=2)),
    }


def audio_packets(path: Path) -> list[tuple]:
    """(pts, dts, bytes) of every sound packet, the priming packet included."""
    with av.open(str(path)) as clip:
        return [(p.pts, p.dts, bytes(p)) for p in clip.demux(clip.streams.audio[0]) if p.size]


def _ratio(ours: float | None, naive: float | None) -> str:
    if ours is None or naive is None:
        return "   –  "
    return f"{ours / max(naive, 1e-6):5.2f}x"


def _cell(value: float | None) -> str:
    return "   –  " if value is None else f"{value:6.2f}"


def measure_clip(folder: Path, name: str, src: Path,
                 make_stylizer: Callable[[], object], side: int) -> tuple[RegionFlicker, ...]:
    """Both runs of one clip; prints its rows and returns (naive, ours)."""
    first = next(iter_frames(src))
    size = fit_size(first.shape[1], first.shape[0], side)
    inputs = list(iter_frames(src, size))
    joins = [i for i in range(1, len(inputs)) if i % round(SEGMENT_S * FPS) == 0]
    results, seconds = {}, {}
    for stabilize in (False, True):
        out = folder / f"{name.split()[0]}_{stabilize}.mp4"
        start = time.perf_counter()
        stylize_video(src, out, make_stylizer(), side, VideoLimits(), stabilize=stabilize,
                      segment_seconds=SEGMENT_S)
        seconds[stabilize] = time.perf_counter() - start
        results[stabilize] = flicker_by_region(inputs, list(iter_frames(out)), joins)
    naive, ours = results[False], results[True]
    same_sound = audio_packets(src) == audio_packets(folder / f"{name.split()[0]}_True.mp4")
    print(f"| {name} | overall | {_cell(naive.overall)} | {_cell(ours.overall)} | "
          f"{_ratio(ours.overall, naive.overall)} |")
    for part in ("static", "moving", "after_cuts"):
        print(f"| | {part.replace('_', ' ')} | {_cell(getattr(naive, part))} | "
              f"{_cell(getattr(ours, part))} | {_ratio(getattr(ours, part), getattr(naive, part))} |")
    print(f"| | joins vs neighbours | {_ratio(naive.joins, naive.join_neighbours)} | "
          f"{_ratio(ours.joins, ours.join_neighbours)} | |")
    print(f"| | sound packets identical | | {'yes' if same_sound else 'NO'} | "
          f"(cuts at {list(ours.cuts) or 'none'}; {seconds[True]:.0f} s) |", flush=True)
    return naive, ours


def run(folder: Path, engine: str, side: int, device: str) -> list[str]:
    """Every clip's rows; returns the targets missed (empty when all are met)."""
    from bench.video import make_frame_stylizer

    style = load_image(media("ihc.png"))
    options = StyleOptions(engine=engine, max_side=side, device=device)
    print(f"## flicker of the delivered MP4 per region (grey levels, lower is steadier), "
          f"{engine}, style ihc.png, {side} px, segments of {SEGMENT_S} s")
    print("| clip | region | naive | ours | ours/naive |\n| --- | --- | --- | --- | --- |")
    missed = []
    for name, src in test_clips(folder).items():
        naive, ours = measure_clip(folder, name, src,
                                   lambda: make_frame_stylizer([style], options), side)
        for part, target in TARGETS.items():
            value, base = getattr(ours, part), getattr(naive, part)
            if value is not None and base and value / base > target:
                missed.append(f"{name} {part} {value / base:.2f}x > {target}x")
        if ours.joins and ours.join_neighbours and \
                ours.joins / ours.join_neighbours > JOIN_TARGET:
            missed.append(f"{name} joins {ours.joins / ours.join_neighbours:.2f}x > "
                          f"{JOIN_TARGET}x")
    print("targets: " + ("all met" if not missed else "missed: " + "; ".join(missed)))
    return missed
