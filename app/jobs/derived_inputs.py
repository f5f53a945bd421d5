"""What a picture job runs on beyond its photo and styles, in the engine child: its brushed
mask, and for an Enhance the enlarged photo, the enlarged earlier result to start from and
the seamless tiles of the first run's size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image

from app.engine.enlarge import enlarge_to_fit
from app.engine.images import load_image
from app.engine.masks import read_mask
from app.engine.options import StyleOptions
from app.storage import MediaStore

ENHANCE = "enhance"
DEEPER = "deeper"


@dataclass(frozen=True)
class Inputs:
    """The photo, options, mask and start picture an engine gets for one picture."""

    content: Image.Image
    options: StyleOptions
    mask: Image.Image | None = None
    start: Image.Image | None = None

    @property
    def plain(self) -> bool:
        """Nothing beyond an ordinary job (a strength-preview state may be kept)."""
        return self.mask is None and self.start is None and self.options.tile_side == 0


def first_side(options: dict[str, Any]) -> int:
    """The longer side of the picture an Enhance was made from (its job's options say)."""
    return int((options.get("derived") or {}).get("side") or 0)


def derived_inputs(store: MediaStore, content: Image.Image, options: StyleOptions,
                   stored: dict[str, Any], max_megapixels: float, mask_path: str | None,
                   derivation: str | None, start_path: str | None) -> Inputs:
    """The inputs of a picture job whose stored options are ``stored``: the mask at
    ``mask_path`` when it has one (a blank one is none); for an Enhance, the photo enlarged
    to the new size, the earlier result at ``start_path`` (painterly engines) enlarged
    likewise, and tiles of the first run's size."""
    mask = read_mask(store.path(mask_path), max_megapixels) if mask_path else None
    if derivation != ENHANCE:
        return Inputs(content, options, mask)
    start = None
    if start_path:
        start = enlarge_to_fit(load_image(store.path(start_path), "the earlier result",
                                          max_megapixels), options.max_side)
    side = first_side(stored)
    tiled = options
    if side:        # tiles of the first run's size (the feed-forward engines use them)
        tiled = options.model_copy(update={"tile_side": side,
                                           "tile_megapixels": side * side / 1e6})
    return Inputs(enlarge_to_fit(content, options.max_side), tiled, mask, start)
