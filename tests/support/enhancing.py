"""One picture and its Enhance, made the way a job makes them (the engine child's
:func:`app.jobs.derived_inputs.derived_inputs` on files in a media folder), with the figures
that say how the Enhance compares: the test of Enhance and ``bench/enhance.py`` share it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from app.engine.dispatch import resolve_engine, stylize_image
from app.engine.enlarge import enhanced_side
from app.engine.images import load_image, pil_to_tensor
from app.engine.options import StyleOptions
from app.engine.quality import high_frequency_energy, psnr
from app.engine.weights.store import WeightStore
from app.jobs.derived_inputs import ENHANCE, derived_inputs
from app.storage import MediaStore
from tests.support.shared import shared_dir


@dataclass(frozen=True)
class EnhanceFigures:
    first: Image.Image
    enhanced: Image.Image
    psnr_db: float              # the Enhance scaled down to the first's size, against it
    detail: float               # the Enhance's high-frequency energy ...
    upscaled_detail: float      # ... and that of the first merely upscaled (Lanczos)


def weight_store(cache: Path) -> WeightStore:
    return WeightStore(weights_dir=shared_dir("weights"), cache_dir=cache)


def first_and_enhanced(folder: Path, engine: str, side: int, photo: str = "astronaut.png",
                       style: str = "brick.png", **values: Any) -> EnhanceFigures:
    """``engine``'s picture of ``photo`` at ``side`` px, then its Enhance (2x), as a job
    runs them; ``values`` are further options (iterations ...)."""
    store, weights = MediaStore(folder / "media"), weight_store(folder / "cache")
    content = load_image(shared_dir("media") / photo)
    styles = [load_image(shared_dir("media") / style)]
    options = StyleOptions(engine=engine, max_side=side, seed=0, **values)
    first = stylize_image(content, styles, options, weights)
    spec = resolve_engine(engine, weights)
    start = None
    if spec.refines_result:
        start = "results/first.png"
        store.path(start).parent.mkdir(parents=True, exist_ok=True)
        first.save(store.path(start))
    bigger = options.model_copy(update={"max_side": enhanced_side(*first.size, 4096)})
    stored = {**options.stored(), "derived": {"side": max(first.size)}}
    inputs = derived_inputs(store, content, bigger, stored, 40.0, None, ENHANCE, start)
    enhanced = stylize_image(inputs.content, styles, inputs.options, weights,
                             start=inputs.start)
    down = enhanced.resize(first.size, Image.Resampling.LANCZOS)
    upscaled = first.resize(enhanced.size, Image.Resampling.LANCZOS)
    return EnhanceFigures(first, enhanced, psnr(pil_to_tensor(down), pil_to_tensor(first)),
                          high_frequency_energy(pil_to_tensor(enhanced)),
                          high_frequency_energy(pil_to_tensor(upscaled)))
