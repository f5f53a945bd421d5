"""End to end with the real MicroAST weights (bundled with the package): the shared pan clip in,
a stylised MP4 with its sound out, flickering at most half as much as per-frame output."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.options import StyleOptions
from app.engine.images import load_image
from app.engine.dispatch import make_frame_stylizer
from app.engine.weights import WeightStore
from app.video.pipeline import iter_frames, stylize_video
from app.video.probe import VideoLimits, inspect_video
from app.video.temporal import sharpness, temporal_instability
from tests.video.clips import media


def test_pan_clip_with_microast(tmp_path: Path, pan_clip: Path) -> None:
    style = load_image(media("ihc.png"))
    options = StyleOptions(engine="microast", max_side=128, device="cpu")
    store = WeightStore(cache_dir=tmp_path / "cache")     # the bundled MicroAST weights
    stylizer = make_frame_stylizer([style], options, store)
    outputs = {}
    for stabilize in (False, True):
        out = tmp_path / f"out_{stabilize}.mp4"
        info = stylize_video(pan_clip, out, stylizer, options.max_side, VideoLimits(),
                             stabilize=stabilize)
        check = inspect_video(out, VideoLimits())
        assert (check.frame_count, check.fps, check.width, check.height) == (48, 24.0, 128, 96)
        assert check.has_audio and check.audio_codec == "aac" and info.frame_count == 48
        outputs[stabilize] = list(iter_frames(out))
    inputs = list(iter_frames(pan_clip, (128, 96)))
    naive = temporal_instability(inputs, outputs[False])
    ours = temporal_instability(inputs, outputs[True])
    assert ours.output <= 0.5 * naive.output, (naive, ours)
    # averaging away frame-to-frame texture changes softens a little; a real blur would not pass
    assert sharpness(outputs[True]) >= 0.6 * sharpness(outputs[False])
    # stylised, not copied: the output differs clearly from the input
    assert abs(outputs[True][24].astype(float) - inputs[24]).mean() > 10
