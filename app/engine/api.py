"""The engines' front door: options, progress, and one call per kind of work.

The job worker, the CLI and the video pipeline call only what is here:

- :func:`stylize_image` — one content image plus style images to one result image;
- :func:`make_frame_stylizer` — style features computed once, then batches of frames;
- :func:`engine_statuses` — which engines have verified weights and which need a download.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import torch
from PIL import Image

ENGINES = ("adain", "microast", "gatys", "gatys-lite")
FEED_FORWARD_ENGINES = ("adain", "microast")


@dataclass(frozen=True)
class StyleOptions:
    """What the user asked for. Fields an engine does not use are ignored by it."""

    engine: str = "auto"              # auto: adain when its weights are present, else microast
    alpha: float = 1.0                # content-style trade-off, 0 (content) .. 1 (full style)
    style_weights: tuple[float, ...] | None = None  # interpolation weights, one per style
    preserve_color: bool = False      # keep the content's colours (see README for the method)
    max_side: int = 512               # longest output side; sides are rounded to multiples of 8
    iterations: int = 300             # Gatys
    optimizer: str = "lbfgs"          # Gatys: lbfgs or adam
    content_weight: float = 1.0       # Gatys
    style_weight: float = 1e6         # Gatys
    tv_weight: float = 1e-6           # Gatys (relative to the image's pixel count)
    init: str = "content"             # Gatys: content or noise
    coarse_to_fine: bool = False      # Gatys: small pass, upsample, refine
    preview_every: int = 25           # Gatys: intermediate image every N iterations
    seed: int | None = None
    device: str = "auto"
    tile_megapixels: float = 0.0      # AdaIN/MicroAST: tile batches above this (0: by free memory)
    tile_side: int = 0                # AdaIN/MicroAST: tile side in px (0: from the threshold)
    compiled: bool = False            # AdaIN/MicroAST on CUDA: torch.compile + CUDA graphs


@dataclass
class Progress:
    """A progress report: ``fraction`` in 0..1, a short message, an optional preview image."""

    fraction: float
    message: str
    preview: Image.Image | None = None
    extras: dict[str, float] = field(default_factory=dict)


ProgressCallback = Callable[[Progress], None]


class CancelToken(Protocol):
    """Anything with ``is_set()`` (a ``threading.Event`` will do)."""

    def is_set(self) -> bool: ...


class FrameStylizer(Protocol):
    """A feed-forward engine with its style features already computed."""

    device: torch.device

    def stylize_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) floats in [0, 1] (any device) to stylised frames, same shape, on
        ``self.device``. H and W must be multiples of 8."""
        ...


def resolve_engine(name: str) -> str:
    """Turn ``auto`` into a concrete engine name and check the name is known."""
    from app.engine.errors import StyleTransferError

    if name == "auto":
        from app.engine.weights import engine_ready

        return "adain" if engine_ready("adain") else "microast"
    if name not in ENGINES:
        raise StyleTransferError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    return name


def make_frame_stylizer(styles: list[Image.Image], options: StyleOptions) -> FrameStylizer:
    """Load the feed-forward engine named by ``options`` (cached per device) and encode
    ``styles`` once, mixed by ``options.style_weights``."""
    from app.engine.errors import StyleTransferError

    engine = resolve_engine(options.engine)
    if engine == "adain":
        from app.engine.adain import AdaINStylizer

        return AdaINStylizer(styles, options)
    if engine == "microast":
        from app.engine.microast import MicroASTStylizer

        return MicroASTStylizer(styles, options)
    raise StyleTransferError(f"engine {engine!r} works on single images only, not video frames")


def stylize_image(content: Image.Image, styles: list[Image.Image], options: StyleOptions,
                  on_progress: ProgressCallback | None = None,
                  cancel: CancelToken | None = None) -> Image.Image:
    """Stylise one image with the engine named by ``options``; raises
    :class:`~app.engine.errors.StyleTransferError` on bad input and
    :class:`~app.engine.errors.Cancelled` when ``cancel`` is set."""
    engine = resolve_engine(options.engine)
    if engine in ("gatys", "gatys-lite"):
        from app.engine.gatys import run_gatys

        return run_gatys(content, styles, options, on_progress=on_progress, cancel=cancel,
                         feature_net="vgg19" if engine == "gatys" else "cd16x")
    from app.engine.feedforward import stylize_single

    return stylize_single(make_frame_stylizer(styles, options), content, options,
                          on_progress=on_progress, cancel=cancel)


@dataclass(frozen=True)
class EngineStatus:
    """Whether an engine can run here, and if not, what fixes it."""

    name: str
    label: str
    ready: bool
    detail: str
    fix_command: str = ""


def engine_statuses() -> list[EngineStatus]:
    """One :class:`EngineStatus` per engine, from the weights found on disk (cheap: no load,
    hashes are cached by file size and mtime)."""
    from app.engine.weights import engine_status

    return [engine_status(name) for name in ENGINES]
