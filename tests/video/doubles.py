"""A test double for the engine: a FrameStylizer with no weights, for pipeline mechanics only.

It does what makes a feed-forward stylisation look like one to the pipeline (a colour
change, same shape, values in [0, 1]) and, with ``flicker``, adds the frame-to-frame noise
that makes per-frame stylisation shimmer, so the stabiliser has something to remove.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F



SEPIA = [[0.39, 0.77, 0.19], [0.35, 0.69, 0.17], [0.27, 0.53, 0.13]]


class StandInStylizer:
    """A sepia colour mix (or the identity), and optional per-call random flicker."""

    def __init__(self, flicker: float = 0.0, seed: int = 0, identity: bool = False,
                 fail_at_call: int | None = None) -> None:
        self.device = torch.device("cpu")
        self.flicker = flicker
        self.calls = 0
        self.frames_seen = 0
        self._generator = torch.Generator().manual_seed(seed)
        self.fail_at_call = fail_at_call
        self._mix = torch.eye(3) if identity else torch.tensor(SEPIA)

    @staticmethod
    def sepia(rgb) -> "np.ndarray":  # type: ignore[no-untyped-def]
        """What the default stand-in makes of one RGB uint8 frame (to find a frame in the
        output by its content)."""
        import numpy as np

        mix = np.array(SEPIA, dtype=np.float32)
        return np.clip(rgb.astype(np.float32) @ mix.T, 0, 255)

    def stylize_frames(self, frames: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = frames.shape
        assert channels == 3 and height % 8 == 0 and width % 8 == 0
        self.calls += 1
        if self.calls == self.fail_at_call:
            raise RuntimeError("stand-in engine failure")
        self.frames_seen += batch
        out = torch.einsum("oc,bchw->bohw", self._mix, frames.float().cpu())
        if self.flicker:
            # low-frequency noise, new every frame: the shimmer of per-frame stylisation
            noise = torch.randn(batch, 3, height // 8, width // 8, generator=self._generator)
            noise = F.interpolate(noise, size=(height, width), mode="bilinear",
                                  align_corners=False)
            out = out + self.flicker * noise
        return out.clamp(0, 1)
