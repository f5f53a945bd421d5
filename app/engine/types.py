"""Types every engine module and every caller of the engines share.

They sit at the bottom of ``app.engine`` and import nothing of it, so engine modules never
import the dispatcher (:mod:`app.engine.dispatch`) and no import cycle can form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Protocol

if TYPE_CHECKING:  # torch and Pillow only for type checkers: this module stays light
    import torch
    from PIL import Image


@dataclass
class Progress:
    """A progress report: ``fraction`` in 0..1, a short message, an optional preview image."""

    fraction: float
    message: str
    preview: "Image.Image | None" = None
    extras: dict[str, float] = field(default_factory=dict)


ProgressCallback = Callable[[Progress], None]


class CancelToken(Protocol):
    """Anything with ``is_set()`` (a ``threading.Event`` will do)."""

    def is_set(self) -> bool: ...


class FrameStylizer(Protocol):
    """A feed-forward engine with its style features already computed."""

    device: "torch.device"

    def stylize_frames(self, frames: "torch.Tensor") -> "torch.Tensor":
        """(B, 3, H, W) floats in [0, 1] (any device) to stylised frames, same shape, on
        ``self.device``. H and W must be multiples of 8."""
        ...


class TemporalFrameEngine(Protocol):
    """An engine for clips that carries its own previous output along the motion (Deep
    Dream, the painterly engines): the video pipeline gives it each frame with the previous
    output already warped to it by optical flow, and where that warp can be trusted.
    ``carries_previous`` is True.

    Optional, read with ``getattr``: ``wants_consistency`` (True: the weight is Ruder et
    al.'s forward-backward consistency, not the warping error's reliability);
    ``watch(on_step, cancel)`` (news from inside a long frame, ``on_step(done, of)``, and a
    cancel honoured inside it); ``frame_work(shot_start, height, width)`` (what a frame
    costs, for progress and the time left: a shot's first frame can cost far more)."""

    device: "torch.device"
    carries_previous: bool

    def stylize_frame(self, frame: "torch.Tensor", previous: "torch.Tensor | None",
                      reliability: "torch.Tensor | None") -> "torch.Tensor":
        """(3, H, W) in [0, 1] to the output frame (3, H, W) on ``self.device``; ``previous``
        (3, H, W) and ``reliability`` (1, H, W) in 0..1, or None for a shot's first frame."""
        ...


@dataclass(frozen=True)
class EngineStatus:
    """Whether an engine can run here: ``ready`` when every weight file it needs is
    verified; ``detail`` says where the weights are, or which are missing."""

    name: str
    label: str
    ready: bool
    detail: str
    missing: tuple[str, ...] = ()
