"""Instant strength preview: a finished feed-forward picture re-rendered at another style
strength by its decoder alone.

The fast engines apply the style strength ``alpha`` after their encoders, so what the run
computed before that point is all a re-render needs. An engine that can do this names its
:class:`StrengthHooks` in its spec (``strength_preview``): what to keep from a run
(``capture``) and how to decode the kept state at a strength (``decode``); this module does
the rest for every such engine — when a state is kept, its file, quick previews at a
smaller size, colours kept.

The state is a dict of tensors only (written with :func:`torch.save`, read back with
``weights_only=True``), plus the content pixels when colours are kept (the chroma comes from
them). Pictures the engine had to tile are not kept (their features never existed whole),
nor are ones over :data:`MAX_STATE_PIXELS`.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any, Mapping, Protocol

import torch
import torch.nn.functional as F
from PIL import Image

from app.engine.color import keep_content_chroma
from app.engine.dispatch import make_frame_stylizer, resolve_engine, stylize_image
from app.engine.feedforward import stylize_single
from app.engine.images import fit_size, tensor_to_pil
from app.engine.options import StyleOptions
from app.engine.registry import BY_NAME
from app.engine.types import CancelToken, ProgressCallback
from app.engine.weights.store import WeightStore

# 1024 x 1024 keeps a MicroAST state under 9 MB and an AdaIN one under 17 MB (fp16 features;
# 2.1 and 4.2 MB at 512 x 512).
MAX_STATE_PIXELS = 1024 * 1024
HALF_SAFE = 60000.0   # fp16's largest finite value is 65504

State = dict[str, torch.Tensor]


class StrengthHooks(Protocol):
    """What an engine with an instant strength preview provides."""

    feature_key: str       # the state's feature map (pooled for quick previews, kept in fp16)
    preview_pixels: int    # a quick preview decodes at most about this many output pixels

    def capture(self, stylizer: Any) -> State:
        """The engine's tensors, from a stylizer whose :attr:`kept` holds the content and its
        features of an untiled pass."""
        ...

    def decode(self, state: State, alpha: float, weights: Mapping[str, Path]) -> torch.Tensor:
        """The raw decoder output (1, 3, H', W') at style strength ``alpha`` (on the CPU);
        ``weights`` maps the engine's weight-file names to verified paths."""
        ...


def hooks_for(engine: str) -> StrengthHooks | None:
    """The strength-preview hooks of ``engine`` (None: it keeps no state)."""
    spec = BY_NAME.get(engine)
    if spec is None or spec.strength_preview is None:
        return None
    module, _, name = spec.strength_preview.partition(":")
    return getattr(import_module(module), name)


def _hooks(engine: str) -> StrengthHooks:
    hooks = hooks_for(engine)
    if hooks is None:
        raise ValueError(f"{engine} keeps no strength-preview state")
    return hooks


def keeps_state(engine: str, options: StyleOptions, content: Image.Image) -> bool:
    """Whether a run of ``engine`` on ``content`` keeps a strength-preview state."""
    width, height = fit_size(content.width, content.height, options.max_side, 8)
    return hooks_for(engine) is not None and width * height <= MAX_STATE_PIXELS


def stylize_keeping_state(content: Image.Image, styles: list[Image.Image],
                          options: StyleOptions, store: WeightStore,
                          on_progress: ProgressCallback | None = None,
                          cancel: CancelToken | None = None) -> tuple[Image.Image, State | None]:
    """:func:`app.engine.dispatch.stylize_image`, plus the state a strength preview needs
    when the engine offers one (None otherwise, or when the picture was tiled)."""
    engine = resolve_engine(options.engine, store).name
    if not keeps_state(engine, options, content):
        return stylize_image(content, styles, options, store, on_progress, cancel), None
    stylizer: Any = make_frame_stylizer(styles, options, store)
    stylizer.keep_for_strength_preview()
    result = stylize_single(stylizer, content, options, on_progress=on_progress, cancel=cancel)
    return result, capture_state(engine, stylizer, result.size, options)


def capture_state(engine: str, stylizer: Any, size: tuple[int, int],
                  options: StyleOptions) -> State | None:
    """The tensors :func:`render` needs, from a stylizer that ran with
    ``keep_for_strength_preview()`` (None when its pass was tiled and kept nothing)."""
    kept = stylizer.kept or {}
    if "content" not in kept:
        return None
    hooks = _hooks(engine)
    width, height = size
    state: State = {"size": torch.tensor([height, width]),
                    "alpha": torch.tensor(float(options.alpha)),
                    "preserve_color": torch.tensor(bool(options.preserve_color)),
                    **hooks.capture(stylizer)}
    if options.preserve_color:
        pixels = kept["content"][..., :height, :width].float().mul(255).round()
        state["content"] = pixels.to(torch.uint8)
    return {k: _compact(v, k == hooks.feature_key) for k, v in state.items()}


def _compact(tensor: torch.Tensor, is_feature_map: bool) -> torch.Tensor:
    """On the CPU; the feature map (nearly all of the bytes) in fp16, which halves the file
    and moves a re-render by at most one grey level (tests/engine/test_strength_preview.py),
    unless a value would overflow it."""
    tensor = tensor.detach().cpu().contiguous()
    if not tensor.dtype.is_floating_point:
        return tensor
    tensor = tensor.float()
    if is_feature_map and tensor.abs().max() < HALF_SAFE:
        return tensor.half()
    return tensor


def save_state(state: State, path: Path) -> None:
    """Write ``state`` to ``path`` (tensors only)."""
    torch.save(state, path)


def load_state(path: Path) -> State:
    """Read a state written by :func:`save_state` (``weights_only=True``: no code runs)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path.name} is not a strength-preview state")
    return state


def downscaled(state: State, engine: str, factor: int) -> State:
    """``state`` with its feature map (and kept content pixels) average-pooled by
    ``factor``: a quick preview decodes to a picture ``factor`` times smaller."""
    if factor <= 1:
        return state
    key = _hooks(engine).feature_key
    small = dict(state)
    small[key] = F.avg_pool2d(state[key].float(), factor, ceil_mode=True)
    height, width = (int(v) for v in state["size"])
    small["size"] = torch.tensor([-(-height // factor), -(-width // factor)])
    if "content" in state:
        pooled = F.avg_pool2d(state["content"].float(), factor, ceil_mode=True)
        small["content"] = pooled.round().to(torch.uint8)
    return small


def preview_factor(state: State, engine: str) -> int:
    """How much to shrink a quick preview so it decodes in well under a second on a small
    CPU (halving the sides until at most the engine's ``preview_pixels`` remain)."""
    limit = _hooks(engine).preview_pixels
    height, width = (int(v) for v in state["size"])
    factor = 1
    while height * width / factor ** 2 > limit:
        factor *= 2
    return factor


def render(state: State, engine: str, alpha: float, weights: Mapping[str, Path]) -> Image.Image:
    """The picture at style strength ``alpha`` (0..1), on the CPU, as the engine would have
    made it: cropped, colours kept when they were, clamped to [0, 1]. ``weights`` maps the
    engine's weight-file names to verified paths."""
    hooks = _hooks(engine)
    alpha = min(1.0, max(0.0, float(alpha)))
    height, width = (int(v) for v in state["size"])
    with torch.inference_mode():
        out = hooks.decode(state, alpha, weights)[..., :height, :width].float()
        if bool(state["preserve_color"]) and "content" in state:
            out = keep_content_chroma(out, state["content"].float().div(255.0))
        return tensor_to_pil(out.clamp_(0.0, 1.0)[0])
