"""Your own fast model: a feed-forward network trained for chosen styles (Johnson, Alahi &
Fei-Fei 2016) with conditional instance normalisation, several styles in one network
(Dumoulin, Shlens & Kudlur 2017). Its spec, as the engine ``trained``.

The network is in :mod:`.network`, its perceptual loss in :mod:`.losses`, the training loop
in :mod:`.training` (photos from :mod:`.photos`, resumable checkpoints in
:mod:`.checkpoints`), the model files people share in :mod:`.model_file`, the frame
stylizer in :mod:`.stylizer` and the instant strength preview in :mod:`.strength`. The model
is not a pinned weight file: a job's style file is its model (checked like an import), and
training needs the bundled pruned VGG-19 (:data:`TRAINING_FILES`).
"""

from __future__ import annotations

from typing import Any, Mapping

from app.engine.methods.gatys import PRUNED_VGG19
from app.engine.spec import EngineSpec

NAME = "trained"
# What a training run loads besides the photos and styles: the perceptual loss network.
TRAINING_FILES = (PRUNED_VGG19,)


# A training step at its defaults (4 crops of 256 px) costs one unit: about a painterly
# iteration on a 512 px picture (the VGG's forward and backward over as many pixels), about
# 1 s on a small CPU (``first_guess_s``).
DEFAULT_BATCH, DEFAULT_SIZE = 4, 256


def steps(options: Mapping[str, Any]) -> float:
    """A job's work: a training's steps, each counted by its pixels (photos per step x crop
    side squared, 1 at the defaults); a picture or clip painted with a model, one pass."""
    if not options.get("steps"):
        return 1.0
    batch = float(options.get("batch") or DEFAULT_BATCH) / DEFAULT_BATCH
    side = float(options.get("size") or DEFAULT_SIZE) / DEFAULT_SIZE
    return float(options["steps"]) * batch * side ** 2


SPEC = EngineSpec(
    name=NAME, label="Your fast model",
    technical="A network trained for your styles (Johnson et al. 2016, conditional instance "
              "normalisation of Dumoulin et al. 2017)",
    summary="One pass with a model trained on your paintings; works on clips.",
    mode="style", files=(), needs_style=False, takes_model=True,
    frames_entry="app.engine.methods.trained.stylizer:TrainedStylizer",
    strength_preview="app.engine.methods.trained.strength:HOOKS", min_side=16,
    work_units=steps, listed=False)
