"""Gatys et al.'s optimisation, the painterly engines: ``gatys-lite`` on the 16x-pruned
VGG-19 that ships with dreamgen, ``gatys`` on the full normalised VGG-19.

The method is in :mod:`.optimise`, its losses in :mod:`.losses`; the feature networks in
:mod:`app.engine.networks`.
"""

from __future__ import annotations

from typing import Any, Mapping

from app.engine.methods.adain import VGG19
from app.engine.spec import EngineSpec, PresetChoice, WeightFile

# The Collaborative Distillation 16x-pruned VGG-19 encoder (MIT) that ships with dreamgen:
# trained_models/wct_se_16x_new/5SE.pth at commit 75c1b81c (hash and size of the team's
# verified copy).
PRUNED_VGG19 = WeightFile(
    "cd16x_wct/5SE.pth",
    "https://raw.githubusercontent.com/MingSun-Tse/Collaborative-Distillation/"
    "75c1b81c1dbea11c96d3fb04e96f207dee16dcbb/trained_models/wct_se_16x_new/5SE.pth",
    3862288, "9417c34d0d8d621bc6af78be745f1b8d30f5f210efa01e50655c60eb3770816b", bundled=True)


def iterations(options: Mapping[str, Any]) -> float:
    """A painterly run's work: its iterations."""
    return float(options.get("iterations") or 1)


_BALANCED = {"size": 512, "iterations": 200, "enhance": 1}
_BEST = {"size": 1024, "iterations": 400, "enhance": 2}

LITE = EngineSpec(
    name="gatys-lite", label="Painterly (slow)",
    technical="Gatys et al. optimisation on a small, fast copy of the VGG-19 picture network",
    summary="Paints the picture step by step, with previews; slower.",
    mode="style", files=(PRUNED_VGG19,),
    image_entry="app.engine.methods.gatys.optimise:stylize_lite", iterative=True,
    work_units=iterations, min_side=32, first_guess_s=0.2,
    presets={"balanced": PresetChoice(0, _BALANCED), "best": PresetChoice(1, _BEST)})
FULL = EngineSpec(
    name="gatys", label="Painterly, finest (slowest)",
    technical="Gatys, Ecker & Bethge, CVPR 2016, on VGG-19",
    summary="The original Deep Style optimisation; best detail, the slowest.",
    mode="style", files=(VGG19,),
    image_entry="app.engine.methods.gatys.optimise:stylize_full", iterative=True,
    work_units=iterations, min_side=32, first_guess_s=1.0,
    presets={"best": PresetChoice(0, _BEST)})
