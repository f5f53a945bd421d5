"""The temporal method for clips (:class:`app.engine.methods.deepdream.dream.FrameDreamer`).

A static scene filmed with sensor noise (chelsea, 128 px, a fresh N(0, 0.03) per frame):
dreamed frame by frame alone, consecutive dreams differ by 0.054 on average (the noise
itself: 0.034) — flicker; each frame starting from the previous dream (reliability 1)
differs by 0.011-0.020. The dream's strength (mean |dream - photo|) stays within 10 % of a
single frame's (measured over 12 frames: 0.061-0.065 against 0.067; without the blend's
pull back towards the photo it grows to 0.148): the new frame pulls back about as much as
the fewer steps dream forward. The test runs 6 frames.
"""

from __future__ import annotations

import pytest
import torch

from app.engine.methods.deepdream.dream import CARRY_STEPS, FrameDreamer, blend
from app.engine.methods.deepdream.networks import PRUNED_VGG19
from app.engine.errors import StyleTransferError
from app.engine.images import pil_to_tensor, resize_to_fit
from app.engine.options import StyleOptions
from app.engine.weights.store import bundled_dir

from .conftest import media

FRAMES = 6


@pytest.fixture(scope="module")
def dreamer() -> FrameDreamer:
    weights = {PRUNED_VGG19.weight: bundled_dir() / PRUNED_VGG19.weight}
    return FrameDreamer(StyleOptions(device="cpu"), weights)


@pytest.fixture(scope="module")
def scene() -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A still photo and noisy frames of it, as a camera on a tripod films it."""
    photo = pil_to_tensor(resize_to_fit(media("chelsea.png", 128), 128, 8))
    generator = torch.Generator().manual_seed(0)
    return photo, [(photo + 0.03 * torch.randn(photo.shape, generator=generator)).clamp(0, 1)
                   for _ in range(FRAMES)]


def mean_change(frames: list[torch.Tensor]) -> list[float]:
    return [float((a - b).abs().mean()) for a, b in zip(frames, frames[1:])]


def test_carrying_the_dream_over_stops_the_flicker(dreamer: FrameDreamer, scene) -> None:
    photo, frames = scene
    alone = [dreamer.dream_frame(frame) for frame in frames[:3]]
    carried = [alone[0]]
    for frame in frames[1:]:
        carried.append(dreamer.dream_frame(frame, previous=carried[-1]))
    assert max(mean_change(carried)) < 0.5 * min(mean_change(alone))
    single = float((alone[0] - photo).abs().mean())
    strengths = [float((c - photo).abs().mean()) for c in carried]
    assert all(abs(s / single - 1) < 0.2 for s in strengths), strengths   # no fade, no runaway


def test_unreliable_pixels_start_from_the_new_frame(dreamer: FrameDreamer, scene) -> None:
    _, frames = scene
    fresh = dreamer.dream_frame(frames[1])
    ignored = dreamer.dream_frame(frames[1], previous=frames[0],
                                  reliability=torch.zeros(1, *frames[1].shape[-2:]))
    assert torch.equal(fresh, ignored)           # nothing reliable: a fresh, full dream


def test_fewer_steps_the_more_is_carried_over(dreamer: FrameDreamer) -> None:
    full = dreamer.options.dream_iterations
    assert dreamer.steps_for(None) == full
    assert dreamer.steps_for(torch.zeros(1, 4, 4)) == full
    assert dreamer.steps_for(torch.ones(1, 4, 4)) == round(full * CARRY_STEPS)
    half = torch.cat([torch.ones(1, 4, 2), torch.zeros(1, 4, 2)], dim=-1)
    assert round(full * CARRY_STEPS) < dreamer.steps_for(half) < full


def test_blend_weights_the_warped_dream_by_reliability() -> None:
    previous, frame = torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)
    reliability = torch.tensor([[[[1.0, 0.0], [0.25, 0.5]]]])
    assert torch.equal(blend(previous, frame, reliability)[0, 1],
                       torch.tensor([[1.0, 0.0], [0.25, 0.5]]))


def test_frames_in_and_out(dreamer: FrameDreamer, scene) -> None:
    _, frames = scene
    out = dreamer.dream_frame(frames[0][0])                    # (3, H, W) is accepted
    assert out.shape == frames[0].shape and out.device == dreamer.device
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
    with pytest.raises(StyleTransferError, match="warp it to the frame"):
        dreamer.dream_frame(frames[0], previous=frames[0][..., :64, :64])
    with pytest.raises(StyleTransferError, match="expected one RGB frame"):
        dreamer.dream_frame(torch.rand(2, 3, 64, 64))


def test_a_dreamed_clip_flickers_less_than_dreaming_each_frame_alone(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Through the video pipeline, the delivered MP4s: the dream carried along the motion
    against each frame dreamed on its own (bench.deepdream prints the same figure)."""
    from tests.support.dream_clips import clip_flicker

    carried, alone = clip_flicker(tmp_path, torch.device("cpu"), side=96, frames=12)
    assert carried < 0.7 * alone, (carried, alone)
