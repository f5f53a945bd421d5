"""One picture under a mask, for every engine: the style where the person painted, and the
photo (or a second style) elsewhere.

The mask (:mod:`app.engine.masks`) is scaled to the result's size and feathered, then each
kind of engine uses it its own way: a feed-forward engine's frame stylizer mixes the two
regions' statistics in feature space (:meth:`FeedForwardStylizer.stylize_masked`); an engine
with its own picture entry (the painterly ones, Deep Dream) gets the soft mask as its
``mask`` argument (masked Gram matrices, masked dream steps). With one style the photo is
then kept outside the mask, blended by the feathered mask, so the unpainted part is the
photo to the grey level and the edge is soft.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any, Callable, Mapping

from PIL import Image

from app.engine.errors import Cancelled, StyleTransferError
from app.engine.images import fit_size, pil_to_tensor, resize_to_fit, tensor_to_pil
from app.engine.masks import fit_mask, keep_photo_outside, mask_tensor
from app.engine.options import StyleOptions
from app.engine.spec import EngineSpec
from app.engine.types import CancelToken, Progress, ProgressCallback

MASK_STYLES = 2   # the painted part's style, then optionally the rest's


def _entry(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    return getattr(import_module(module), name)


def check_masked_styles(spec: EngineSpec, count: int) -> None:
    """Refuse, in words, more styles than a masked picture can use."""
    if spec.mode == "style" and count > MASK_STYLES:
        raise StyleTransferError(f"with a mask, give one style for the painted part and at "
                                 f"most one more for the rest, not {count}")


def rest_is_styled(spec: EngineSpec, count: int) -> bool:
    """Whether a second style goes outside the mask (else the photo stays there)."""
    return spec.mode == "style" and count == MASK_STYLES


def stylize_masked(spec: EngineSpec, content: Image.Image, styles: list[Image.Image],
                   options: StyleOptions, weights: Mapping[str, Path], mask: Image.Image,
                   on_progress: ProgressCallback | None = None,
                   cancel: CancelToken | None = None,
                   extra: Mapping[str, Any] | None = None) -> Image.Image:
    """``spec``'s engine on ``content`` with ``styles[0]`` where ``mask`` is painted and
    ``styles[1]`` (when given) or the photo elsewhere; ``extra`` goes to a picture entry
    as keyword arguments (an Enhance's start image)."""
    check_masked_styles(spec, len(styles))
    photo = resize_to_fit(content, options.max_side, 8)
    region = fit_mask(mask, fit_size(content.width, content.height, options.max_side, 8))
    if spec.image_entry is None:
        result = _feedforward(spec, photo, styles, options, weights, region, on_progress,
                              cancel)
    else:
        result = _entry(spec.image_entry)(content, styles, options, weights, on_progress,
                                          cancel, mask=region, **(extra or {}))
    if rest_is_styled(spec, len(styles)):
        return result
    return keep_photo_outside(result, photo, region)


def _feedforward(spec: EngineSpec, photo: Image.Image, styles: list[Image.Image],
                 options: StyleOptions, weights: Mapping[str, Path], region: Image.Image,
                 on_progress: ProgressCallback | None,
                 cancel: CancelToken | None) -> Image.Image:
    """A feed-forward engine's masked pass: one stylizer per region's style."""
    report = on_progress or (lambda progress: None)
    single = options.model_copy(update={"style_weights": None})
    make = _entry(spec.frames_entry or "")
    inside = make(styles[:1], single, weights)
    rest = make(styles[1:2], single, weights) if len(styles) == MASK_STYLES else None
    if cancel is not None and cancel.is_set():
        raise Cancelled()
    report(Progress(0.0, f"stylising {photo.width}x{photo.height} under the mask"))
    out = inside.stylize_masked(pil_to_tensor(photo), mask_tensor(region), rest)
    report(Progress(1.0, "done"))
    return tensor_to_pil(out[0].cpu())
