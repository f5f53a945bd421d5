"""MicroAST's instant strength preview: its decoder alone re-renders a finished picture at
another style strength.

MicroAST decodes the content's deep features under the style code
``alpha * style + (1 - alpha) * own`` (:func:`.network.blend_with_own_style`, ``own`` being
the content's own code), so a state keeps the deep features, the style code and the own
code, and a re-render is one decoder pass.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any, Mapping

import torch

from app.engine.methods.microast import WEIGHTS
from app.engine.methods.microast.network import (
    MicroDecoder,
    StyleCode,
    decode,
    encode_style,
    mix_style_codes,
)
from app.engine.networks.cache import cached
from app.engine.weights.checkpoints import load_strict

_CODE_FIELDS = tuple(f.name for f in fields(StyleCode))
State = dict[str, torch.Tensor]


def _decoder(path: Path) -> MicroDecoder:
    def build() -> MicroDecoder:
        decoder = load_strict(MicroDecoder(), path, "MicroAST")
        return decoder.eval().requires_grad_(False).to(memory_format=torch.channels_last)

    return cached(("microast-decoder", str(path)), build)


def _code(state: State, prefix: str) -> StyleCode:
    return StyleCode(**{n: state[f"{prefix}.{n}"] for n in _CODE_FIELDS})


class MicroASTStrength:
    """The :class:`~app.engine.strength_preview.StrengthHooks` of MicroAST."""

    feature_key = "deep"
    preview_pixels = 1024 * 1024   # its decoder takes ~0.17 s at 512 x 512 on two cores

    def capture(self, stylizer: Any) -> State:
        """The deep content features, the style code and the content's own code."""
        with torch.inference_mode():
            own = encode_style(stylizer.nets, stylizer.kept["content"])
        state: State = {"deep": stylizer.kept["deep"]}
        state.update({f"style.{n}": getattr(stylizer.style_code, n) for n in _CODE_FIELDS})
        state.update({f"own.{n}": getattr(own, n) for n in _CODE_FIELDS})
        return state

    def decode(self, state: State, alpha: float, weights: Mapping[str, Path]) -> torch.Tensor:
        """The decoder under ``alpha * style + (1 - alpha) * own``."""
        code = _code(state, "style")
        if alpha < 1.0:
            code = mix_style_codes([code, _code(state, "own")], [alpha, 1.0 - alpha])
        deep = state["deep"].float().contiguous(memory_format=torch.channels_last)
        return decode(_decoder(Path(weights[WEIGHTS["decoder"].name])), deep, code)


HOOKS = MicroASTStrength()
