"""Temporal stability: stop per-frame stylisation from flickering, and measure the flicker.

A feed-forward engine stylises each frame on its own, so textures that should stay put shimmer
from frame to frame. We blend each stylised frame with the previous *output* frame warped
along the optical flow of the *input* (the idea of short-term consistency in Ruder et al.,
"Artistic style transfer for videos", 2016, without re-optimising):

    out_t = (1 - w * m_t) * stylised_t + w * m_t * warp(out_{t-1}, flow_t)

``flow_t`` is OpenCV's DIS optical flow from input frame t back to frame t-1, computed on
small greyscale frames on the CPU; ``m_t`` in [0, 1] says where that flow can be trusted: the
input itself must be reproduced by the warp (small warping error) and the source point must lie
inside the frame. Where objects appear, cuts happen or light changes, ``m_t`` is 0 and the
stylised frame is taken as it is, so nothing smears.

:func:`temporal_instability` is the metric: the mean absolute difference between consecutive
output frames after warping by the input's flow, over pixels where that flow is reliable. It
uses Farneback's flow (a different method from the one the stabiliser uses), so the stabiliser
does not grade its own homework.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

FLOW_SIDE = 320            # longest side of the frames the flow is computed on
FLOW_MIN_SIDE = 48         # smaller frames are padded to this before DIS (see safe_dis_flow)
BLEND_WEIGHT = 0.9         # w above: how much of the warped previous output is kept (0.75
                           # left 0.64x of per-frame flicker in the delivered MP4, 0.9 0.46x)
WARP_MODE = "bicubic"      # resampling of the previous output (bilinear blurs more)
_ERROR_LOW, _ERROR_HIGH = 0.04, 0.10   # warping error (0..1) from fully to not reliable


@dataclass
class FlowStep:
    """Backward flow from the current input frame to the previous one, with its reliability,
    both at flow resolution: ``flow`` is (h, w, 2) in pixels, ``reliability`` (h, w) in 0..1."""

    flow: np.ndarray
    reliability: np.ndarray


def grey_for_flow(rgb: np.ndarray, side: int = FLOW_SIDE) -> np.ndarray:
    """An RGB uint8 frame as a greyscale uint8 frame whose longer side is at most ``side``."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    scale = min(1.0, side / max(grey.shape))
    if scale < 1.0:
        size = (max(8, round(grey.shape[1] * scale)), max(8, round(grey.shape[0] * scale)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return grey


def warp_array(image: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``image`` sampled at ``x + flow(x)`` (bilinear) and a mask of points inside the frame."""
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    map_x, map_y = xs + flow[..., 0], ys + flow[..., 1]
    warped = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    return warped, inside


def flow_reliability(current: np.ndarray, previous: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """0..1 per pixel: 1 where warping ``previous`` by ``flow`` reproduces ``current``."""
    warped, inside = warp_array(previous, flow)
    error = np.abs(current.astype(np.float32) - warped.astype(np.float32)) / 255.0
    error = cv2.GaussianBlur(error, (5, 5), 0)   # judge small neighbourhoods, not lone pixels
    weight = np.clip((_ERROR_HIGH - error) / (_ERROR_HIGH - _ERROR_LOW), 0.0, 1.0)
    return (weight * inside).astype(np.float32)


class FlowTracker:
    """Feed input frames in order; get each one's :class:`FlowStep` (``None`` for the first)."""

    def __init__(self, side: int = FLOW_SIDE) -> None:
        self.side = side
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        self._previous: np.ndarray | None = None

    def step(self, rgb: np.ndarray) -> FlowStep | None:
        grey = grey_for_flow(rgb, self.side)
        previous, self._previous = self._previous, grey
        if previous is None or previous.shape != grey.shape:
            return None
        flow = safe_dis_flow(self._dis, grey, previous)
        return FlowStep(flow=flow, reliability=flow_reliability(grey, previous, flow))


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


class TemporalBlender:
    """Holds the previous output frame (on any torch device) and blends it into the next."""

    def __init__(self, weight: float = BLEND_WEIGHT) -> None:
        self.weight = weight
        self._previous: torch.Tensor | None = None

    def warped_previous(self, like: torch.Tensor, step: FlowStep | None
                        ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The previous output warped to the frame ``like`` (3, H, W) and the (1, H, W)
        reliability of that warp, or (None, None) for a first frame or a cut."""
        if step is None or self._previous is None or self._previous.shape != like.shape:
            return None, None
        return warp_tensor(self._previous.to(like.device), step)

    def remember(self, output: torch.Tensor) -> None:
        """Keep ``output`` as the previous frame (for engines that blend on their own)."""
        self._previous = output.float()

    def prime(self, previous: torch.Tensor) -> None:
        """Carry on from ``previous`` (3, H, W), the last output frame of an earlier run."""
        self._previous = previous.float()

    def blend(self, stylised: torch.Tensor, step: FlowStep | None) -> torch.Tensor:
        """``stylised`` is (3, H, W) in [0, 1]; returns the stabilised frame, same device."""
        current = stylised.float()
        if step is not None and self._previous is not None and \
                self._previous.shape == current.shape:
            warped, mask = warp_tensor(self._previous.to(current.device), step)
            keep = self.weight * mask
            current = current * (1 - keep) + warped * keep
        self._previous = current
        return current


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
    mask = torch.from_numpy(step.reliability).to(device)[None, None]
    mask = F.interpolate(mask, size=(height, width), mode="bilinear", align_corners=False)[0]
    return warped, mask


@lru_cache(maxsize=8)
def _pixel_grid(height: int, width: int, device: torch.device) -> torch.Tensor:
    """(1, 2, H, W): each pixel centre's x and y in grid_sample's [-1, 1] coordinates."""
    ys, xs = torch.meshgrid(torch.arange(height, device=device, dtype=torch.float32),
                            torch.arange(width, device=device, dtype=torch.float32),
                            indexing="ij")
    return torch.stack(((2 * xs + 1) / width - 1, (2 * ys + 1) / height - 1)).unsqueeze(0)


@dataclass(frozen=True)
class Instability:
    """Flicker figures in 0..255 grey levels per channel (lower is steadier)."""

    output: float            # consecutive output frames, warped by the input's flow
    input: float             # the same for the input frames (what a perfect method could reach)
    reliable_fraction: float # share of pixels the figures are taken over


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
        height, width = rgb_out.shape[:2]
        rgb_in = cv2.resize(rgb_in, (width, height), interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(rgb_in, cv2.COLOR_RGB2GRAY)
        if previous_in is not None:
            flow = cv2.calcOpticalFlowFarneback(grey, cv2.cvtColor(previous_in, cv2.COLOR_RGB2GRAY),
                                                None, 0.5, 4, 15, 3, 5, 1.2, 0)
            mask = flow_reliability(grey, cv2.cvtColor(previous_in, cv2.COLOR_RGB2GRAY), flow)
            mask = (mask > 0.5).astype(np.float32)[..., None]
            warped_out, _ = warp_array(previous_out, flow)
            warped_in, _ = warp_array(previous_in, flow)
            out_sum += float((np.abs(rgb_out.astype(np.float32) - warped_out) * mask).sum())
            in_sum += float((np.abs(rgb_in.astype(np.float32) - warped_in) * mask).sum())
            weight_sum += float(mask.sum()) * 3
            total += height * width
        previous_in, previous_out = rgb_in, rgb_out
    weight_sum = max(weight_sum, 1.0)
    return Instability(output=out_sum / weight_sum, input=in_sum / weight_sum,
                       reliable_fraction=weight_sum / 3 / max(total, 1))


def sharpness(frames: Sequence[np.ndarray]) -> float:
    """Mean variance of the Laplacian of the frames' grey levels (higher is sharper)."""
    values = [cv2.Laplacian(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var() for f in frames]
    return float(np.mean(values))
