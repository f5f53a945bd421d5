"""MicroAST (Wang et al., AAAI 2023), the fast engine: its spec and its weight files.

The networks and the maths are in :mod:`.network`, the frame stylizer in :mod:`.stylizer`,
the instant strength preview in :mod:`.strength`. The four checkpoints (MIT) ship inside the
package.
"""

from __future__ import annotations

from app.engine.spec import EngineSpec, PresetChoice, WeightFile

_URL = ("https://raw.githubusercontent.com/EndyWon/MicroAST/"
        "d2796c7dbf01dbc29ed35b11675d87fcc640f969/models")
_FILES = {  # part: (size, sha256)
    "content_encoder": (634983, "c8d895c0eec52507c157e102fab217c37f0c399ef3e168ef8b0b2677714660a4"),
    "style_encoder": (634983, "94f6b3fa386828692c20809a0af8bd0eba9c04e90a7d8842086976e4d223c5af"),
    "modulator": (12158, "8588055baf7d5ad8398d595d5518c6f030e3ff8dbb6007a7c1779776e11da28b"),
    "decoder": (619135, "32e04a46b953fd9f94ec9e20f351511305a5260e000c18f9aef6570d5f1e23d9"),
}
# Each sub-network's checkpoint, keyed by part.
WEIGHTS: dict[str, WeightFile] = {
    part: WeightFile(f"microast/{part}_iter_160000.pth.tar", f"{_URL}/{part}_iter_160000.pth.tar",
                     size, digest, bundled=True)
    for part, (size, digest) in _FILES.items()}

SPEC = EngineSpec(
    name="microast", label="Fast", technical="MicroAST (Wang et al., AAAI 2023)",
    summary="One pass, the quickest; works on clips.", mode="style",
    files=tuple(WEIGHTS.values()),
    frames_entry="app.engine.methods.microast.stylizer:MicroASTStylizer", auto_rank=2,
    strength_preview="app.engine.methods.microast.strength:HOOKS", first_guess_s=0.5,
    presets={"fast": PresetChoice(rank=0, values={"size": 512})})
