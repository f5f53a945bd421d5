"""The quality choices (the create page's first question): Fast, Balanced, Best.

What a choice means for an engine is that engine's own business: each spec's ``presets``
holds, per choice, the values it fills in and the engine's rank (:mod:`app.engine.methods`).
Here the choices get their plain words, and :func:`preset_values` picks, for a mode, the
best-ranked engine installed on this server. A choice fills only the fields a person left
blank: an explicit engine, size or iterations wins. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from app.engine.options import OptionsError
from app.engine.registry import dream_engine, preset_engines


@dataclass(frozen=True)
class Preset:
    """A quality choice in plain words, with what it gives (from the engines' specs): the
    style engines that offer it (best first) and the best one's size, iterations and enhance
    passes (None: its engines do not iterate), and the dream's size, octaves and steps."""

    name: str
    label: str
    summary: str
    engines: tuple[str, ...]
    size: int
    iterations: int | None
    enhance: int | None
    dream_size: int
    octaves: int
    dream_iterations: int
    dream_summary: str       # the summary in Deep Dream mode (no painting words there)


def _preset(name: str, label: str, summary: str, dream_summary: str) -> Preset:
    style = [spec.name for spec in preset_engines(name, "style")]
    best = preset_engines(name, "style")[0].presets[name].values
    dream = dream_engine().presets[name].values
    return Preset(name, label, summary, tuple(style), best["size"], best.get("iterations"),
                  best.get("enhance"), dream["size"], dream["octaves"],
                  dream["dream_iterations"], dream_summary)


# No time in the words: the create page says how long each took on this server
# (app/web/create/speed.py), which is seconds on a GPU and minutes on a small CPU.
PRESETS: dict[str, Preset] = {p.name: p for p in (
    _preset("fast", "Fast", "one pass, the quickest", "a short dream"),
    _preset("balanced", "Balanced", "painted step by step, with previews",
            "a longer dream, with previews"),
    _preset("best", "Best", "the finest painting installed, twice the steps, and larger when "
                            "your photo is",
            "the longest dream, at more scales, and larger when your photo is"),
)}


def preset_values(name: str, mode: str, is_ready: Callable[[str], bool]) -> dict[str, Any]:
    """The field values the quality choice ``name`` gives in ``mode`` (``style`` or
    ``dream``); ``is_ready(engine)`` says whether an engine is installed here, so Best means
    the finest one this server has. Raises :class:`~app.engine.options.OptionsError` for an unknown
    name."""
    if name not in PRESETS:
        raise OptionsError(f"quality must be one of {', '.join(PRESETS)}, not {name!r}")
    if mode == "dream":
        return {"preset": name, **dream_engine().presets[name].values}
    engines = preset_engines(name, "style")
    chosen = next((spec for spec in engines if is_ready(spec.name)), None)
    values = (chosen or engines[0]).presets[name].values
    return {"preset": name, "engine": chosen.name if chosen else "auto", **values}
