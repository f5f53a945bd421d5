"""How much a clip flickers: the measures the tests and ``python -m bench.video`` take.

The flicker of an output is the mean absolute difference (grey levels, 0..255 per channel)
between each output frame and the previous output frame warped along the optical flow of
the *input*, over the pixels where that flow reproduces the input (Ruder et al.'s temporal
error, as in Lai et al., "Learning blind video temporal consistency", 2018). It uses
Farneback's flow, a different method from the DIS flow the stabiliser uses, so the
stabiliser does not grade its own homework.

:func:`temporal_instability` gives one figure for a whole clip; :func:`flicker_by_region`
splits it into static and moving pixels, the frames after scene cuts and the frames at
segment joins (see :class:`RegionFlicker`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from app.video.flow import CUT_RELIABLE, flow_reliability, warp_array

STILL_PX = 0.5             # an input pixel whose flow is shorter than this did not move...
TEXTURED = 3.0             # ...if the input has texture there to tell (local std, grey levels)
MIN_SHARE = 0.02           # a region under this share of the reliable pixels has no figure
AFTER_CUT = 6              # frames after a cut counted as "after the cut"
JOIN_NEIGHBOURS = 3        # pairs each side of a join it is compared with


@dataclass(frozen=True)
class Instability:
    """Flicker figures in 0..255 grey levels per channel (lower is steadier)."""

    output: float            # consecutive output frames, warped by the input's flow
    input: float             # the same for the input frames (what a perfect method could reach)
    reliable_fraction: float # share of pixels the figures are taken over


@dataclass(frozen=True)
class PairFlicker:
    """One consecutive pair of frames (``index`` is the later one): summed absolute
    warping error and pixel counts over every reliable pixel, and over the static and the
    moving ones; ``cut`` when the flow reaches too little of the frame (a scene cut, left
    out of every figure). Flat input (sky, a wall) is neither static nor moving: no flow can
    tell whether it moved."""

    index: int
    sum: float
    pixels: float
    static_sum: float
    static_pixels: float
    moving_sum: float
    moving_pixels: float
    cut: bool

    @property
    def error(self) -> float:
        return self.sum / self.pixels if self.pixels else 0.0


@dataclass(frozen=True)
class RegionFlicker:
    """A clip's flicker per region (grey levels; None where the clip has too few such
    pixels, :data:`MIN_SHARE`): ``overall`` every reliable pixel of every pair but the cuts;
    ``static`` textured pixels (:data:`TEXTURED`) whose input flow is shorter than
    :data:`STILL_PX`, ``moving`` pixels whose flow is longer; ``after_cuts`` the
    :data:`AFTER_CUT` pairs after each cut; ``joins`` the pairs whose later frame starts a
    segment, and ``join_neighbours`` the pairs within :data:`JOIN_NEIGHBOURS` of them."""

    overall: float
    static: float | None
    moving: float | None
    after_cuts: float | None
    joins: float | None
    join_neighbours: float | None
    cuts: tuple[int, ...]


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _flow(grey: np.ndarray, previous: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Farneback flow from ``grey`` back to ``previous`` and its 0/1 reliability."""
    flow = cv2.calcOpticalFlowFarneback(grey, previous, None, 0.5, 4, 15, 3, 5, 1.2, 0)
    return flow, (flow_reliability(grey, previous, flow) > 0.5).astype(np.float32)


def _at_output_size(rgb_in: np.ndarray, rgb_out: np.ndarray) -> np.ndarray:
    height, width = rgb_out.shape[:2]
    return cv2.resize(rgb_in, (width, height), interpolation=cv2.INTER_AREA)


def temporal_instability(input_frames: Sequence[np.ndarray],
                         output_frames: Sequence[np.ndarray]) -> Instability:
    """Mean absolute difference between each output frame and the previous output frame
    warped by the optical flow of the input (Farneback, at output size), over the pixels
    where that flow reproduces the input. Frames are RGB uint8 arrays (H, W, 3)."""
    if len(input_frames) != len(output_frames) or len(input_frames) < 2:
        raise ValueError("need the same number (at least two) of input and output frames")
    out_sum = in_sum = weight_sum = 0.0
    total = 0
    previous_in = previous_out = None
    for rgb_in, rgb_out in zip(input_frames, output_frames):
        rgb_in = _at_output_size(rgb_in, rgb_out)
        if previous_in is not None:
            flow, mask = _flow(_grey(rgb_in), _grey(previous_in))
            mask = mask[..., None]
            warped_out, _ = warp_array(previous_out, flow)
            warped_in, _ = warp_array(previous_in, flow)
            out_sum += float((np.abs(rgb_out.astype(np.float32) - warped_out) * mask).sum())
            in_sum += float((np.abs(rgb_in.astype(np.float32) - warped_in) * mask).sum())
            weight_sum += float(mask.sum()) * 3
            total += rgb_out.shape[0] * rgb_out.shape[1]
        previous_in, previous_out = rgb_in, rgb_out
    weight_sum = max(weight_sum, 1.0)
    return Instability(output=out_sum / weight_sum, input=in_sum / weight_sum,
                       reliable_fraction=weight_sum / 3 / max(total, 1))


def pair_flicker(input_frames: Sequence[np.ndarray],
                 output_frames: Sequence[np.ndarray]) -> list[PairFlicker]:
    """The warping error of every consecutive pair of output frames, split into static and
    moving pixels (see :class:`PairFlicker`)."""
    if len(input_frames) != len(output_frames) or len(input_frames) < 2:
        raise ValueError("need the same number (at least two) of input and output frames")
    pairs = []
    previous_in = previous_out = None
    for index, (rgb_in, rgb_out) in enumerate(zip(input_frames, output_frames)):
        rgb_in = _at_output_size(rgb_in, rgb_out)
        if previous_in is not None:
            flow, reliable = _flow(_grey(rgb_in), _grey(previous_in))
            warped, _ = warp_array(previous_out, flow)
            error = np.abs(rgb_out.astype(np.float32) - warped).mean(axis=2)
            moving = np.hypot(flow[..., 0], flow[..., 1]) >= STILL_PX
            static_mask = reliable * (~moving & _textured(_grey(rgb_in)))
            moving_mask = reliable * moving
            pairs.append(PairFlicker(index, float((error * reliable).sum()),
                                     float(reliable.sum()), float((error * static_mask).sum()),
                                     float(static_mask.sum()), float((error * moving_mask).sum()),
                                     float(moving_mask.sum()),
                                     float(reliable.mean()) < CUT_RELIABLE))
        previous_in, previous_out = rgb_in, rgb_out
    return pairs


def _textured(grey: np.ndarray) -> np.ndarray:
    """Where the grey frame has enough local contrast for a flow to be measured."""
    grey = grey.astype(np.float32)
    mean = cv2.blur(grey, (7, 7))
    spread = np.sqrt(np.maximum(cv2.blur(grey * grey, (7, 7)) - mean * mean, 0.0))
    return spread >= TEXTURED


def _mean(pairs: list[PairFlicker], part: str = "") -> float | None:
    key = f"{part}_" if part else ""
    pixels = sum(getattr(p, f"{key}pixels") for p in pairs)
    everything = sum(p.pixels for p in pairs)
    if not pixels or pixels < MIN_SHARE * everything:
        return None
    return sum(getattr(p, f"{key}sum") for p in pairs) / pixels


def flicker_by_region(input_frames: Sequence[np.ndarray], output_frames: Sequence[np.ndarray],
                      joins: Sequence[int] = ()) -> RegionFlicker:
    """:class:`RegionFlicker` of ``output_frames`` made from ``input_frames``; ``joins`` are
    the indices of the frames that start a segment (0 left out)."""
    pairs = [p for p in pair_flicker(input_frames, output_frames)]
    kept = [p for p in pairs if not p.cut]
    cuts = tuple(p.index for p in pairs if p.cut)
    after = [p for p in kept if any(0 < p.index - c <= AFTER_CUT for c in cuts)]
    join_set = {j for j in joins if j > 0}
    at_joins = [p for p in kept if p.index in join_set]
    near = [p for p in kept if p.index not in join_set
            and any(abs(p.index - j) <= JOIN_NEIGHBOURS for j in join_set)]
    return RegionFlicker(overall=_mean(kept) or 0.0, static=_mean(kept, "static"),
                         moving=_mean(kept, "moving"), after_cuts=_mean(after),
                         joins=_mean(at_joins), join_neighbours=_mean(near), cuts=cuts)


def sharpness(frames: Sequence[np.ndarray]) -> float:
    """Mean variance of the Laplacian of the frames' grey levels (higher is sharper)."""
    values = [cv2.Laplacian(_grey(f), cv2.CV_64F).var() for f in frames]
    return float(np.mean(values))
