"""A trained model's instant strength preview: the painting and the photo it painted, blended
at another strength.

A trained network paints at full strength and the strength slider blends its painting with
the photo (:func:`.stylizer.blend`), so a state keeps the painting and the photo, and a
re-render is one blend: no network runs at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch

from app.engine.methods.trained.stylizer import blend

State = dict[str, torch.Tensor]


class TrainedStrength:
    """The :class:`~app.engine.strength_preview.StrengthHooks` of trained models."""

    feature_key = "painted"
    preview_pixels = 2048 * 2048   # a blend: every kept picture previews at full size

    def capture(self, stylizer: Any) -> State:
        """The full-strength painting and the photo (8-bit, as the colours-kept state)."""
        photo = stylizer.kept["content"].float().mul(255).round().to(torch.uint8)
        return {"painted": stylizer.kept["painted"], "content": photo}

    def decode(self, state: State, alpha: float, weights: Mapping[str, Path]) -> torch.Tensor:
        """``alpha * painted + (1 - alpha) * photo``."""
        photo = state["content"].float().div(255.0)
        painted = state["painted"].float()[..., :photo.shape[-2], :photo.shape[-1]]
        return blend(painted, photo[..., :painted.shape[-2], :painted.shape[-1]], alpha)


HOOKS = TrainedStrength()
