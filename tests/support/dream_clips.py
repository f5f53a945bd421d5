"""A dreamed clip's flicker, measured in the delivered MP4s: what ``bench.deepdream`` prints
and ``tests/engine/test_deepdream_video.py`` holds."""

from __future__ import annotations

from pathlib import Path

import torch

from app.engine.methods.deepdream.dream import FrameDreamer
from app.engine.methods.deepdream.networks import PRUNED_VGG19
from app.engine.options import StyleOptions
from app.engine.weights.store import bundled_dir
from app.video.decoding import iter_frames
from app.video.flicker import temporal_instability
from app.video.pipeline import stylize_video
from app.video.probe import VideoLimits
from tests.support.clips import pan_frames, write_clip

# The bundled network Deep Dream dreams on by default, by its weight-file name.
PRUNED = {PRUNED_VGG19.weight: bundled_dir() / PRUNED_VGG19.weight}


def clip_flicker(folder: Path, device: torch.device, side: int = 128,
                 frames: int = 24) -> tuple[float, float]:
    """(flicker carried, flicker each frame alone) in grey levels of a dreamed pan clip (the
    delivered MP4s), default settings but 2 octaves (the clip is small)."""
    src = write_clip(folder / "pan.mp4", pan_frames("chelsea.png", (side, side * 3 // 4),
                                                    frames, step=2))
    options = StyleOptions(max_side=side, octaves=2, device=str(device), seed=0)
    dreamer = FrameDreamer(options, PRUNED)
    outputs = {}
    for carried in (True, False):
        out = folder / f"dream-{carried}.mp4"
        stylize_video(src, out, dreamer, side, VideoLimits(), stabilize=carried)
        outputs[carried] = list(iter_frames(out))
    inputs = list(iter_frames(src))
    return (temporal_instability(inputs, outputs[True]).output,
            temporal_instability(inputs, outputs[False]).output)
