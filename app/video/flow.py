"""Optical flow between consecutive input frames, and where it can be trusted.

:class:`FlowTracker` takes the input frames in order and gives, for each, a :class:`FlowStep`:
the backward flow to the previous frame (OpenCV DIS, on small greyscale frames, on the CPU)
and three masks at flow resolution:

- ``reliability`` — the warp reproduces the input (small warping error of the grey frames)
  and the source point is inside the frame: the stabiliser's blend weight;
- ``consistency`` — the forward-backward check of Ruder, Dosovitskiy & Brox, "Artistic style
  transfer for videos" (GCPR 2016, Sec. 3.2, after Sundaram et al. 2010): zero at
  disocclusions (the forward flow warped back does not cancel the backward flow), at motion
  boundaries (a steep flow gradient) and where the source point leaves the frame; computed
  only when the tracker is asked for it (it costs a second flow).

``cut`` marks a scene cut: too little of the frame can be reached from the previous one.
:func:`warp_tensor` warps a frame (any torch device) by a flow computed at a smaller size.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import torch
import torch.nn.functional as F

FLOW_SIDE = 320            # longest side of the frames the flow is computed on
FLOW_MIN_SIDE = 48         # smaller frames are padded to this before DIS (see safe_dis_flow)
WARP_MODE = "bicubic"      # resampling of the previous output (bilinear blurs more)
CUT_RELIABLE = 0.25        # a frame less than this share of which the flow reaches is a cut
_ERROR_LOW, _ERROR_HIGH = 0.04, 0.10   # warping error (0..1) from fully to not reliable
# Ruder et al.'s thresholds (Sec. 3.2), in squared pixels at flow resolution:
# disocclusion |w~ + w^|^2 > 0.01 (|w~|^2 + |w^|^2) + 0.5,
# motion boundary |grad u^|^2 + |grad v^|^2 > 0.01 |w^|^2 + 0.002.
_FB_RELATIVE, _FB_ABSOLUTE = 0.01, 0.5
_EDGE_RELATIVE, _EDGE_ABSOLUTE = 0.01, 0.002


@dataclass
class FlowStep:
    """Backward flow from the current input frame to the previous one, with its masks, all
    at flow resolution: ``flow`` is (h, w, 2) in pixels, the masks (h, w) in 0..1 (see the
    module notes; ``consistency`` is None unless the tracker computes it)."""

    flow: np.ndarray
    reliability: np.ndarray
    consistency: np.ndarray | None = None
    cut: bool = False


def grey_for_flow(rgb: np.ndarray, side: int = FLOW_SIDE) -> np.ndarray:
    """An RGB uint8 frame as a greyscale uint8 frame whose longer side is at most ``side``."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    scale = min(1.0, side / max(grey.shape))
    if scale < 1.0:
        size = (max(8, round(grey.shape[1] * scale)), max(8, round(grey.shape[0] * scale)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return grey


def warp_array(image: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``image`` sampled at ``x + flow(x)`` (bilinear) and a mask of points inside the frame.

    Pixel centres are at integers, so the frame covers -0.5 .. w - 0.5: a point up to half
    a pixel beyond the outermost centres is still on the frame. (Taking w - 1 as the edge
    marked the last row and column outside whenever the flow of a still scene wobbled
    outwards by a hundredth of a pixel, and the stabiliser left a band along the right and
    bottom edges unsteadied.)"""
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    map_x, map_y = xs + flow[..., 0], ys + flow[..., 1]
    warped = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = (map_x >= -0.5) & (map_x <= w - 0.5) & (map_y >= -0.5) & (map_y <= h - 0.5)
    return warped, inside


def flow_reliability(current: np.ndarray, previous: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """0..1 per pixel: 1 where warping ``previous`` by ``flow`` reproduces ``current``."""
    warped, inside = warp_array(previous, flow)
    error = np.abs(current.astype(np.float32) - warped.astype(np.float32)) / 255.0
    error = cv2.GaussianBlur(error, (5, 5), 0)   # judge small neighbourhoods, not lone pixels
    weight = np.clip((_ERROR_HIGH - error) / (_ERROR_HIGH - _ERROR_LOW), 0.0, 1.0)
    return (weight * inside).astype(np.float32)


def consistency_mask(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Ruder et al.'s per-pixel weight c (Sec. 3.2): 1 where the flow can be trusted, 0 at
    disocclusions, motion boundaries and points whose source leaves the frame.

    ``backward`` is w^, from the current frame back to the previous one; ``forward`` is w,
    from the previous frame to the current one; both (h, w, 2) in pixels. With
    w~(x) = w(x + w^(x)) (the forward flow warped to the current frame), a pixel is
    disoccluded where |w~ + w^|^2 > 0.01 (|w~|^2 + |w^|^2) + 0.5, and on a motion boundary
    where |grad u^|^2 + |grad v^|^2 > 0.01 |w^|^2 + 0.002."""
    warped_forward, inside = warp_array(forward, backward)
    sum_sq = np.square(warped_forward + backward).sum(axis=2)
    magnitudes = np.square(warped_forward).sum(axis=2) + np.square(backward).sum(axis=2)
    disoccluded = sum_sq > _FB_RELATIVE * magnitudes + _FB_ABSOLUTE
    # a frame one pixel high or wide has no gradient across that axis (np.gradient needs 2)
    gradients = sum((np.square(np.gradient(backward[..., k], axis=a))
                     for k in range(2) for a in range(2) if backward.shape[a] > 1),
                    np.zeros(backward.shape[:2], np.float32))
    boundary = gradients > _EDGE_RELATIVE * np.square(backward).sum(axis=2) + _EDGE_ABSOLUTE
    return (~disoccluded & ~boundary & inside).astype(np.float32)


class FlowTracker:
    """Feed input frames in order; get each one's :class:`FlowStep` (``None`` for the first).
    ``consistency`` also computes the forward flow and Ruder et al.'s mask from it."""

    def __init__(self, side: int = FLOW_SIDE, consistency: bool = False) -> None:
        self.side, self.consistency = side, consistency
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        self._previous: np.ndarray | None = None

    def step(self, rgb: np.ndarray) -> FlowStep | None:
        grey = grey_for_flow(rgb, self.side)
        previous, self._previous = self._previous, grey
        if previous is None or previous.shape != grey.shape:
            return None
        flow = safe_dis_flow(self._dis, grey, previous)
        reliability = flow_reliability(grey, previous, flow)
        mask = None
        if self.consistency:
            mask = consistency_mask(flow, safe_dis_flow(self._dis, previous, grey))
        return FlowStep(flow=flow, reliability=reliability, consistency=mask,
                        cut=float(reliability.mean()) < CUT_RELIABLE)


def safe_dis_flow(dis: cv2.DISOpticalFlow, current: np.ndarray,
                  previous: np.ndarray) -> np.ndarray:
    """DIS flow from ``current`` back to ``previous`` for frames of any size.

    OpenCV's DIS refuses frames under 12 px a side and crashes the process (SIGSEGV) on
    frames a little larger than that (seen at 8-12 px high, 64 px wide, OpenCV 5.0), so
    small frames are padded by edge replication to :data:`FLOW_MIN_SIDE` and the flow is
    cropped back."""
    height, width = current.shape[:2]
    pad_y, pad_x = max(0, FLOW_MIN_SIDE - height), max(0, FLOW_MIN_SIDE - width)
    if pad_y or pad_x:
        current = cv2.copyMakeBorder(current, 0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE)
        previous = cv2.copyMakeBorder(previous, 0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE)
    flow = dis.calc(current, previous, None)
    return np.ascontiguousarray(flow[:height, :width])


def upsampled(mask: np.ndarray, height: int, width: int,
              device: torch.device) -> torch.Tensor:
    """A (h, w) mask at flow resolution as a (1, H, W) tensor on ``device`` (bilinear)."""
    tensor = torch.from_numpy(np.ascontiguousarray(mask)).to(device)[None, None]
    return F.interpolate(tensor, size=(height, width), mode="bilinear", align_corners=False)[0]


def warp_tensor(image: torch.Tensor, step: FlowStep) -> tuple[torch.Tensor, torch.Tensor]:
    """(3, H, W) ``image`` warped by a flow computed at a smaller size, and the (1, H, W)
    reliability upsampled to match; both on ``image``'s device."""
    _, height, width = image.shape
    device = image.device
    flow = torch.from_numpy(step.flow).to(device).permute(2, 0, 1).unsqueeze(0)
    small_h, small_w = step.flow.shape[:2]
    flow = F.interpolate(flow, size=(height, width), mode="bilinear", align_corners=False)
    flow = flow * torch.tensor([width / small_w, height / small_h], device=device).view(1, 2, 1, 1)
    # pixel x + flow(x) in grid_sample's [-1, 1] coordinates (align_corners=False)
    scale = torch.tensor([2 / width, 2 / height], device=device).view(1, 2, 1, 1)
    grid = (_pixel_grid(height, width, device) + flow * scale).permute(0, 2, 3, 1)
    warped = F.grid_sample(image.unsqueeze(0), grid, mode=WARP_MODE,
                           padding_mode="border", align_corners=False)[0]
    return warped, upsampled(step.reliability, height, width, device)


@lru_cache(maxsize=8)
def _pixel_grid(height: int, width: int, device: torch.device) -> torch.Tensor:
    """(1, 2, H, W): each pixel centre's x and y in grid_sample's [-1, 1] coordinates."""
    ys, xs = torch.meshgrid(torch.arange(height, device=device, dtype=torch.float32),
                            torch.arange(width, device=device, dtype=torch.float32),
                            indexing="ij")
    return torch.stack(((2 * xs + 1) / width - 1, (2 * ys + 1) / height - 1)).unsqueeze(0)
