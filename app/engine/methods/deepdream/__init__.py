"""Deep Dream (Mordvintsev, Olah & Tyka, "Inceptionism", 2015), the namesake mode: its spec
and the GoogLeNet weight file.

It dreams with the best network installed (:mod:`.networks`): torchvision's ImageNet
GoogLeNet, else the full normalised VGG-19, else the 16x-pruned VGG-19 that ships with
dreamgen. The gradient ascent is in :mod:`.ascent`, pictures and clip frames in
:mod:`.dream`.
"""

from __future__ import annotations

from typing import Any, Mapping

from app.engine.methods.adain import VGG19
from app.engine.methods.gatys import PRUNED_VGG19
from app.engine.spec import EngineSpec, PresetChoice, WeightFile

# torchvision's ImageNet GoogLeNet (Deep Dream's best network). torchvision checks only the
# 8-hex prefix in the file name; the full SHA-256 is the one two independent projects pin for
# this URL (D3M UBC primitives' weight manifest, and a video-highlight project that verifies
# the file), and it starts with that prefix. Not downloaded or re-hashed here (no internet);
# the size is left unknown for the same reason (its state dict is 52.08 MB of tensors).
GOOGLENET = WeightFile(
    "googlenet/googlenet-1378be20.pth", "https://download.pytorch.org/models/googlenet-1378be20.pth",
    None, "1378be20a8e875cf1568b8a71654e704449655e34711a959a38b04fb34905cef")


def octave_steps(options: Mapping[str, Any]) -> float:
    """A dream's work: octaves x steps per octave."""
    return float((options.get("octaves") or 1) * (options.get("dream_iterations") or 1))


SPEC = EngineSpec(
    name="deepdream", label="Deep Dream",
    technical="Inceptionism (Mordvintsev, Olah & Tyka, 2015): gradient ascent over octaves",
    summary="Dreams patterns out of the photo, step by step, with previews; no style "
            "image (an optional guide image steers the dream).",
    mode="dream", files=(PRUNED_VGG19,), optional_files=(GOOGLENET, VGG19),
    image_entry="app.engine.methods.deepdream.dream:dream_image",
    frames_entry="app.engine.methods.deepdream.dream:make_frame_dreamer", iterative=True,
    needs_style=False, work_units=octave_steps, min_side=32, first_guess_s=0.45,
    presets={"fast": PresetChoice(0, {"size": 512, "octaves": 3, "dream_iterations": 6}),
             "balanced": PresetChoice(0, {"size": 768, "octaves": 4, "dream_iterations": 10}),
             "best": PresetChoice(0, {"size": 1024, "octaves": 5, "dream_iterations": 15})})
