"""Ruder et al.'s consistency mask (forward-backward check) and scene cuts, on flows made
by hand and on real (generated) frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.video.flow import FlowTracker, consistency_mask
from app.video.temporal import TemporalBlender
from tests.support.clips import moving_object_frames, pan_frames, photo


def test_flows_that_cancel_are_consistent_and_ones_that_do_not_are_not() -> None:
    backward = np.zeros((32, 48, 2), np.float32)
    backward[..., 0] = 2.0                   # every pixel came from 2 px to its right
    forward = -backward                      # ... and goes back there: consistent
    mask = consistency_mask(backward, forward)
    assert mask[:, :-3].min() == 1.0
    assert mask[:, -2:].max() == 0.0         # their source is outside the frame
    disoccluded = consistency_mask(backward, np.zeros_like(forward))   # forward says: still
    assert disoccluded.max() == 0.0


def test_a_motion_boundary_is_not_trusted() -> None:
    backward = np.zeros((32, 48, 2), np.float32)
    backward[:, 24:, 0] = 3.0                # the right half moves, the left does not
    forward = np.zeros_like(backward)
    forward[:, 27:, 0] = -3.0
    mask = consistency_mask(backward, forward)
    assert mask[:, 23:25].max() == 0.0       # the boundary's steep gradient
    assert mask[:, :20].min() == 1.0 and mask[:, 30:44].min() == 1.0


def test_on_real_frames_the_mask_is_zero_where_the_object_uncovers_the_background() -> None:
    frames = list(moving_object_frames("chelsea.png", "coffee.png", (160, 120), 8, step=6))
    tracker = FlowTracker(consistency=True)
    steps = [tracker.step(f) for f in frames]
    step = steps[5]
    assert step is not None and step.consistency is not None and not step.cut
    radius, middle = 120 // 5, 60
    left = 5 * 6 - radius                    # where the disc's left edge is in frame 5
    background = step.consistency[:20].mean()       # far above the disc
    behind = step.consistency[middle - 5:middle + 5, max(0, left - 6):left].mean()
    assert background > 0.95 and behind < 0.5, (background, behind)


def test_a_pan_is_trusted_and_a_cut_is_a_cut() -> None:
    tracker = FlowTracker(consistency=True)
    frames = list(pan_frames("chelsea.png", (160, 120), 3, step=3))
    tracker.step(frames[0])
    pan = tracker.step(frames[1])
    assert not pan.cut and pan.consistency[10:-10, 10:-10].mean() > 0.9
    cut = tracker.step(np.ascontiguousarray(photo("rocket.jpg", (160, 120))))
    assert cut.cut
    blender = TemporalBlender()
    blender.remember(torch.rand(3, 120, 160))
    assert blender.warped_previous(torch.rand(3, 120, 160), cut) == (None, None)
    warped, weight = blender.warped_previous(torch.rand(3, 120, 160), pan, consistency=True)
    assert warped is not None and weight.shape == (1, 120, 160)
    assert float(weight.mean()) == pytest.approx(float(pan.consistency.mean()), abs=0.02)
