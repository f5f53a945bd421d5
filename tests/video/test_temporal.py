"""The flicker metric and the flow-guided blend, on arrays and on real (generated) clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from app.engine.options import StyleOptions
from app.video.decoding import iter_frames
from app.video.pipeline import stylize_video
from app.video.probe import VideoLimits
from app.video.flicker import sharpness, temporal_instability
from app.video.flow import FlowStep, FlowTracker, warp_tensor
from app.video.temporal import TemporalBlender
from tests.support.clips import pan_frames, photo, static_frames, write_clip
from tests.video.doubles import StandInStylizer


def _textured(height: int = 64, width: int = 96) -> np.ndarray:
    return photo("coffee.png", (width, height))


def test_warp_follows_a_known_shift() -> None:
    image = torch.from_numpy(_textured().copy()).permute(2, 0, 1).float() / 255
    shifted = torch.roll(image, shifts=3, dims=2)               # content moves 3 px right
    flow = np.zeros((32, 48, 2), np.float32)
    flow[..., 0] = -1.5                                         # at half size: -3 px full
    warped, mask = warp_tensor(image, FlowStep(flow, np.ones((32, 48), np.float32)))
    assert torch.allclose(warped[:, :, 8:-8], shifted[:, :, 8:-8], atol=0.02)
    assert mask.shape == (1, 64, 96) and float(mask.min()) == 1.0


def test_blend_takes_the_new_frame_where_the_flow_is_unreliable() -> None:
    blender = TemporalBlender(weight=0.7)
    first, second = torch.zeros(3, 64, 96), torch.ones(3, 64, 96)
    blender.blend(first, None)
    step = FlowStep(np.zeros((32, 48, 2), np.float32), np.zeros((32, 48), np.float32))
    assert torch.equal(blender.blend(second, step), second)
    reliable = FlowStep(step.flow, np.ones((32, 48), np.float32))
    assert torch.allclose(blender.blend(first, reliable), torch.full((3, 64, 96), 0.7))


def test_tracker_trusts_a_pan_and_not_a_cut() -> None:
    tracker = FlowTracker()
    frames = list(pan_frames("chelsea.png", (160, 120), 3, step=3))
    assert tracker.step(frames[0]) is None
    pan = tracker.step(frames[1])
    assert float(np.median(pan.flow[..., 0])) == pytest.approx(3.0, abs=0.5)
    assert pan.reliability.mean() > 0.8
    cut = tracker.step(np.ascontiguousarray(photo("rocket.jpg", (160, 120))))
    assert cut.reliability.mean() < 0.3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_blend_on_gpu_matches_cpu() -> None:
    frames = list(pan_frames("chelsea.png", (160, 120), 2, step=2))
    tracker = FlowTracker()
    tracker.step(frames[0])
    step = tracker.step(frames[1])
    results = []
    for device in ("cpu", "cuda"):
        blender = TemporalBlender()
        for rgb, s in ((frames[0], None), (frames[1], step)):
            out = blender.blend(torch.from_numpy(rgb.copy()).permute(2, 0, 1).to(device) / 255, s)
        results.append(out.cpu())
    assert torch.allclose(results[0], results[1], atol=2e-3)


def test_instability_is_zero_for_identical_output_and_sees_noise() -> None:
    frames = list(static_frames("coffee.png", (96, 64), 4, noise=0.0, light=0.0))
    steady = temporal_instability(frames, frames)
    assert steady.output == pytest.approx(steady.input) and steady.output < 0.1
    assert steady.reliable_fraction > 0.9
    rng = np.random.default_rng(1)
    noisy = [np.clip(f + rng.normal(0, 8, f.shape), 0, 255).astype(np.uint8) for f in frames]
    assert temporal_instability(frames, noisy).output > 5.0


@pytest.mark.parametrize("kind", ["static", "pan"])
def test_stabilised_video_flickers_half_as_much_without_blur(tmp_path: Path, monkeypatch,
                                                             kind: str) -> None:
    """Stand-in engine with per-frame noise; figures are taken on the encoded MP4s."""
    frames = (static_frames("chelsea.png", (128, 96), 24) if kind == "static"
              else pan_frames("chelsea.png", (128, 96), 24, step=2))
    src = write_clip(tmp_path / f"{kind}.mp4", frames)
    outputs = {}
    for stabilize in (False, True):
        out = tmp_path / f"out_{stabilize}.mp4"
        stylize_video(src, out, StandInStylizer(flicker=0.04, seed=3), 128, VideoLimits(),
                      stabilize=stabilize)
        outputs[stabilize] = list(iter_frames(out))
    inputs = list(iter_frames(src))
    naive = temporal_instability(inputs, outputs[False])
    ours = temporal_instability(inputs, outputs[True])
    assert ours.output <= 0.5 * naive.output
    # the stand-in's noise is smooth, so removing it must not lower sharpness much
    assert sharpness(outputs[True]) >= 0.85 * sharpness(outputs[False])
