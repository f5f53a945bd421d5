"""Instant strength preview: a finished fast-engine picture re-rendered at another style
strength by its decoder alone.

Both fast engines apply the style strength ``alpha`` after the encoders, so what the run
computed before that point is all a re-render needs:

- **MicroAST** decodes the content's deep features under the style code
  ``alpha * style + (1 - alpha) * own`` (:func:`app.engine.microast.blend_with_own_style`,
  ``own`` being the content's own code): we keep the deep features, the style code and the
  own code.
- **AdaIN** decodes ``(1 - alpha) * f(c) + alpha * AdaIN(f(c), s)`` (Huang & Belongie,
  Eq. 14): we keep the relu4_1 content features ``f(c)`` and the style's mean and std.

The state is a dict of tensors only (written with :func:`torch.save`, read back with
``weights_only=True``), plus the content pixels when colours are kept (the chroma comes from
them). Pictures the engine had to tile are not kept (their features never existed whole), nor
are ones over :data:`MAX_STATE_PIXELS`.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from app.engine.adain import adain_with_stats, trade_off
from app.engine.checkpoints import load_strict
from app.engine.color import keep_content_chroma
from app.engine.dispatch import make_frame_stylizer, resolve_engine, stylize_image
from app.engine.feedforward import stylize_single
from app.engine.images import fit_size, tensor_to_pil
from app.engine.microast import (WEIGHT_NAMES, MicroDecoder, StyleCode, decode, encode_style,
                                 mix_style_codes)
from app.engine.options import StyleOptions
from app.engine.types import CancelToken, ProgressCallback
from app.engine.vgg import DECODER_WEIGHT, load_adain_decoder
from app.engine.weights import WeightStore

FAST_ENGINES = ("microast", "adain")
# 1024 x 1024 keeps a MicroAST state under 9 MB and an AdaIN one under 17 MB (fp16 features;
# 2.1 and 4.2 MB at 512 x 512).
MAX_STATE_PIXELS = 1024 * 1024
DECODER_FILES = {"microast": WEIGHT_NAMES["decoder"], "adain": DECODER_WEIGHT}
_CODE_FIELDS = tuple(f.name for f in fields(StyleCode))
FEATURE_KEYS = ("deep", "feat")
# A quick preview decodes at most about this many output pixels (halving the sides until so).
PREVIEW_PIXELS = {"microast": 1024 * 1024, "adain": 320 * 320}
HALF_SAFE = 60000.0   # fp16's largest finite value is 65504

State = dict[str, torch.Tensor]


def keeps_state(engine: str, options: StyleOptions, content: Image.Image) -> bool:
    """Whether a run of ``engine`` on ``content`` keeps a strength-preview state."""
    width, height = fit_size(content.width, content.height, options.max_side, 8)
    return engine in FAST_ENGINES and width * height <= MAX_STATE_PIXELS


def stylize_keeping_state(content: Image.Image, styles: list[Image.Image],
                          options: StyleOptions, store: WeightStore,
                          on_progress: ProgressCallback | None = None,
                          cancel: CancelToken | None = None) -> tuple[Image.Image, State | None]:
    """:func:`app.engine.dispatch.stylize_image`, plus the state a strength preview needs
    when the engine is a fast one (None otherwise, or when the picture was tiled)."""
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
    width, height = size
    state: State = {"size": torch.tensor([height, width]),
                    "alpha": torch.tensor(float(options.alpha)),
                    "preserve_color": torch.tensor(bool(options.preserve_color))}
    if engine == "microast":
        with torch.inference_mode():
            own = encode_style(stylizer.nets, kept["content"])
        state["deep"] = kept["deep"]
        state.update({f"style.{n}": getattr(stylizer.style_code, n) for n in _CODE_FIELDS})
        state.update({f"own.{n}": getattr(own, n) for n in _CODE_FIELDS})
    else:
        state.update(feat=kept["feat"], style_mean=stylizer.style_mean,
                     style_std=stylizer.style_std)
    if options.preserve_color:
        pixels = kept["content"][..., :height, :width].float().mul(255).round()
        state["content"] = pixels.to(torch.uint8)
    return {k: _compact(k, v) for k, v in state.items()}


def _compact(name: str, tensor: torch.Tensor) -> torch.Tensor:
    """On the CPU; the feature maps (nearly all of the bytes) in fp16, which halves the file
    and moves a re-render by at most one grey level (tests/engine/test_strength_preview.py),
    unless a value would overflow it."""
    tensor = tensor.detach().cpu().contiguous()
    if not tensor.dtype.is_floating_point:
        return tensor
    tensor = tensor.float()
    if name in FEATURE_KEYS and tensor.abs().max() < HALF_SAFE:
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


def _microast_decoder(path: Path) -> MicroDecoder:
    decoder = load_strict(MicroDecoder(), path, "MicroAST")
    return decoder.eval().requires_grad_(False).to(memory_format=torch.channels_last)


def _code(state: State, prefix: str) -> StyleCode:
    return StyleCode(**{n: state[f"{prefix}.{n}"] for n in _CODE_FIELDS})


def _decode_microast(state: State, alpha: float, decoder_path: Path) -> torch.Tensor:
    """MicroAST's decoder under ``alpha * style + (1 - alpha) * own`` (as
    :func:`~app.engine.microast.blend_with_own_style`)."""
    code = _code(state, "style")
    if alpha < 1.0:
        code = mix_style_codes([code, _code(state, "own")], [alpha, 1.0 - alpha])
    deep = state["deep"].float().contiguous(memory_format=torch.channels_last)
    return decode(_microast_decoder(decoder_path), deep, code)


def _decode_adain(state: State, alpha: float, decoder_path: Path) -> torch.Tensor:
    """AdaIN's decoder on ``(1 - alpha) * f(c) + alpha * AdaIN(f(c), s)`` (Eq. 14)."""
    feat = state["feat"].float().contiguous(memory_format=torch.channels_last)
    target = adain_with_stats(feat, state["style_mean"], state["style_std"])
    return load_adain_decoder(decoder_path)(trade_off(feat, target, alpha))


def downscaled(state: State, engine: str, factor: int) -> State:
    """``state`` with its feature maps (and kept content pixels) average-pooled by
    ``factor``: a quick preview decodes to a picture ``factor`` times smaller."""
    if factor <= 1:
        return state
    key = "deep" if engine == "microast" else "feat"
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
    CPU (AdaIN's decoder takes ~0.85 s at 512 x 512 on two cores, MicroAST's ~0.17 s)."""
    height, width = (int(v) for v in state["size"])
    factor = 1
    while height * width / factor ** 2 > PREVIEW_PIXELS[engine]:
        factor *= 2
    return factor


def render(state: State, engine: str, alpha: float, decoder_path: Path) -> Image.Image:
    """The picture at style strength ``alpha`` (0..1), on the CPU, as the engine would have
    made it: cropped, colours kept when they were, clamped to [0, 1]."""
    if engine not in FAST_ENGINES:
        raise ValueError(f"{engine} keeps no strength-preview state")
    alpha = min(1.0, max(0.0, float(alpha)))
    height, width = (int(v) for v in state["size"])
    with torch.inference_mode():
        decode_at = _decode_microast if engine == "microast" else _decode_adain
        out = decode_at(state, alpha, decoder_path)[..., :height, :width].float()
        if bool(state["preserve_color"]) and "content" in state:
            out = keep_content_chroma(out, state["content"].float().div(255.0))
        return tensor_to_pil(out.clamp_(0.0, 1.0)[0])
