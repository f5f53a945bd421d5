"""Temporal stability: stop per-frame stylisation from flickering.

A feed-forward engine stylises each frame on its own, so textures that should stay put shimmer
from frame to frame. :class:`TemporalBlender` blends each stylised frame with the previous
*output* frame warped along the optical flow of the *input* (the idea of short-term
consistency in Ruder et al., "Artistic style transfer for videos", 2016, without
re-optimising):

    out_t = (1 - w * m_t) * stylised_t + w * m_t * warp(out_{t-1}, flow_t)

``flow_t`` and ``m_t`` come from :class:`~app.video.flow.FlowTracker`: ``m_t`` in [0, 1] says
where that flow can be trusted (see :mod:`app.video.flow`). Where objects appear or light
changes, ``m_t`` is 0 and the stylised frame is taken as it is, so nothing smears; at a scene
cut nothing of the previous shot is carried over.

A blend converges on the stylised frame's average, never quite stops changing, and H.264
keeps coding those small changes. :class:`StillHold` then keeps still, block by block, what
did not move in the input and barely changed in the output (the previous output's block, to
the bit), so the encoder skips it and the delivered file holds still where the scene does.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from app.video.flow import FlowStep, upsampled, warp_tensor

BLEND_WEIGHT = 0.9         # w above: how much of the warped previous output is kept (0.75
                           # left 0.64x of per-frame flicker in the delivered MP4, 0.9 0.46x)
HOLD_BLOCK = 8             # the still hold works on blocks of this side (H.264's 8x8 blocks)
HOLD_BLUR = 2.0            # sigma (px) of the blur that takes sensor grain out of the input
HOLD_INPUT_MEAN = 1.5      # grey levels: a block whose blurred input changed less than this
HOLD_INPUT_MAX = 5.0       # on average and at most this anywhere,
HOLD_FLOW = 0.5            # and whose flow is shorter than this (output px) did not move


class TemporalBlender:
    """Holds the previous output frame (on any torch device) and blends it into the next."""

    def __init__(self, weight: float = BLEND_WEIGHT) -> None:
        self.weight = weight
        self._previous: torch.Tensor | None = None

    def warped_previous(self, like: torch.Tensor, step: FlowStep | None,
                        consistency: bool = False
                        ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The previous output warped to the frame ``like`` (3, H, W) and the (1, H, W)
        weight of that warp (the flow's reliability, or with ``consistency`` Ruder et al.'s
        forward-backward mask), or (None, None) for a first frame or a cut."""
        if step is None or step.cut or self._previous is None or \
                self._previous.shape != like.shape:
            return None, None
        warped, reliability = warp_tensor(self._previous.to(like.device), step)
        if consistency and step.consistency is not None:
            reliability = upsampled(step.consistency, like.shape[1], like.shape[2],
                                    like.device)
        return warped, reliability

    def remember(self, output: torch.Tensor) -> None:
        """Keep ``output`` as the previous frame (for engines that blend on their own)."""
        self._previous = output.float()

    def prime(self, previous: torch.Tensor) -> None:
        """Carry on from ``previous`` (3, H, W), the last output frame of an earlier run."""
        self._previous = previous.float()

    def blend(self, stylised: torch.Tensor, step: FlowStep | None) -> torch.Tensor:
        """``stylised`` is (3, H, W) in [0, 1]; returns the stabilised frame, same device."""
        current = stylised.float()
        if step is not None and not step.cut and self._previous is not None and \
                self._previous.shape == current.shape:
            warped, mask = warp_tensor(self._previous.to(current.device), step)
            keep = self.weight * mask
            current = current * (1 - keep) + warped * keep
        self._previous = current
        return current


class StillHold:
    """Keeps the output still where the input is.

    Each :data:`HOLD_BLOCK` block of the output is held (copied from the previous delivered
    frame) as long as the optical flow in it is shorter than :data:`HOLD_FLOW` and the blurred
    input in it has not changed, since the frame the block was last taken from, by more than
    :data:`HOLD_INPUT_MEAN` on average or :data:`HOLD_INPUT_MAX` anywhere. The engine's own frame-to-frame wobble on an unchanged input never shows;
    anything that moves goes through at once, and a slow change (light) in steps of about
    :data:`HOLD_INPUT_MEAN`. Sensor grain is blurred away first (:data:`HOLD_BLUR`)."""

    def __init__(self, block: int = HOLD_BLOCK) -> None:
        self.block = block
        self._previous: np.ndarray | None = None      # the last delivered frame
        self._reference: np.ndarray | None = None     # blurred input each block was taken at

    def prime(self, rgb: np.ndarray) -> None:
        """Carry on from ``rgb``, the last delivered frame of an earlier run (its input is
        not known, so the next frame takes every block afresh)."""
        self._previous, self._reference = rgb, None

    def continue_from(self, rgb: np.ndarray) -> None:
        """Hold ``rgb`` instead of the last delivered frame (same blocks, same inputs)."""
        self._previous = rgb

    def hold(self, rgb: np.ndarray, source: np.ndarray, step: FlowStep | None) -> np.ndarray:
        """``rgb`` (H, W, 3) uint8, made from the input frame ``source`` (same size) whose
        flow ``step`` is, with its still blocks taken from the previous delivered frame (none
        for a first frame or at a cut)."""
        blurred = _blurred_grey(source)
        previous, reference = self._previous, self._reference
        if step is None or step.cut or previous is None or reference is None or \
                previous.shape != rgb.shape:
            self._previous, self._reference = rgb, blurred
            return rgb
        still = self._still_pixels(blurred, reference, _motion(step.flow, rgb.shape[:2]))
        held = np.where(still[..., None], previous, rgb)
        self._previous = held
        self._reference = np.where(still, reference, blurred)
        return held

    def _still_pixels(self, blurred: np.ndarray, reference: np.ndarray,
                      motion: np.ndarray) -> np.ndarray:
        """(H, W) booleans: the pixels of the blocks to hold."""
        b = self.block
        rows, cols = blurred.shape[0] // b, blurred.shape[1] // b

        def blocks(values: np.ndarray) -> np.ndarray:
            return values[:rows * b, :cols * b].reshape(rows, b, cols, b)

        change = blocks(np.abs(blurred - reference))
        still = (change.mean(axis=(1, 3)) < HOLD_INPUT_MEAN) & \
            (change.max(axis=(1, 3)) < HOLD_INPUT_MAX) & \
            (blocks(motion).mean(axis=(1, 3)) < HOLD_FLOW)
        pixels = np.zeros(blurred.shape, bool)
        pixels[:rows * b, :cols * b] = np.kron(still, np.ones((b, b), bool))
        return pixels


def _motion(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Length of the flow (h, w, 2) at flow resolution, in pixels of an output of ``size``
    (height, width), at that size."""
    height, width = size
    scale = width / flow.shape[1]
    length = np.hypot(flow[..., 0], flow[..., 1]) * scale
    return cv2.resize(length, (width, height), interpolation=cv2.INTER_LINEAR)


def _blurred_grey(rgb: np.ndarray) -> np.ndarray:
    """The grey levels of ``rgb`` with sensor grain blurred away (float32, 0..255)."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return cv2.GaussianBlur(grey, (0, 0), HOLD_BLUR)


class Stabiliser:
    """What carries from one output frame to the next: the flow-guided blend (and, for an
    engine that carries its own previous output, that output) and the still hold."""

    def __init__(self) -> None:
        self.blender = TemporalBlender()
        self.hold = StillHold()

    def prime(self, rgb: np.ndarray) -> None:
        """Carry on from ``rgb`` (H, W, 3) uint8, the last frame of an earlier run as it was
        delivered (decoded from its last committed segment)."""
        self.continue_from(rgb)
        self.hold.prime(rgb)

    def continue_from(self, rgb: np.ndarray) -> None:
        """Carry on from ``rgb``, the previous frame as the viewer sees it (decoded from the
        segment just committed), instead of the frame the encoder was given: the next
        segment starts with a keyframe, and one made from what the viewer saw last does not
        pop (see :class:`~app.video.stylising.SegmentJoins`)."""
        self.blender.prime(torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)
                           .float().div_(255.0))
        self.hold.continue_from(rgb)
