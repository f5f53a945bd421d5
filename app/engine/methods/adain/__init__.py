"""AdaIN (Huang & Belongie, ICCV 2017), the classic engine: its spec and its weight files.

The published normalised VGG-19 (also the feature network of the finest painterly engine
and of Deep Dream) and the AdaIN decoder are downloaded on request; the networks are in
:mod:`app.engine.networks.vgg`, the frame stylizer in :mod:`.stylizer`, the instant strength
preview in :mod:`.strength`.
"""

from __future__ import annotations

from app.engine.spec import EngineSpec, WeightFile

_URL = "https://github.com/naoto0804/pytorch-AdaIN/releases/download/v0.0.0"
VGG19 = WeightFile("adain/vgg_normalised.pth", f"{_URL}/vgg_normalised.pth", None,
                   "804ca2835ecf7539f0cd2a7ac3c18ce81e6f8468969ae7117ac0c148d286bb4a")
DECODER = WeightFile("adain/decoder.pth", f"{_URL}/decoder.pth", None,
                     "379ca41d59f3a37eed3599bbbc2560c19da5c458870a5ffd3a9dd41aa88f9472")

SPEC = EngineSpec(
    name="adain", label="Classic", technical="AdaIN (Huang & Belongie, ICCV 2017)",
    summary="One pass; smooth brush strokes; works on clips.",
    mode="style", files=(VGG19, DECODER),
    frames_entry="app.engine.methods.adain.stylizer:AdaINStylizer", auto_rank=1, min_side=16,
    strength_preview="app.engine.methods.adain.strength:HOOKS", first_guess_s=2.0)
