"""One image through a feed-forward engine (AdaIN, MicroAST): resize, one batch, back to PIL."""

from __future__ import annotations

from PIL import Image

from app.engine.errors import Cancelled, StyleTransferError
from app.engine.images import check_megapixels, pil_to_tensor, resize_to_fit, tensor_to_pil
from app.engine.options import StyleOptions
from app.engine.types import CancelToken, FrameStylizer, Progress, ProgressCallback


def stylize_single(stylizer: FrameStylizer, content: Image.Image, options: StyleOptions,
                   on_progress: ProgressCallback | None = None,
                   cancel: CancelToken | None = None) -> Image.Image:
    """``content`` scaled to fit ``options.max_side`` (sides multiples of 8), stylised in one
    batch of one, as an RGB PIL image. Reports progress at start and end; checks ``cancel``
    before the (uninterruptible) forward pass."""
    report = on_progress or (lambda progress: None)
    if cancel is not None and cancel.is_set():
        raise Cancelled()
    check_megapixels(content.width, content.height, "content image", options.max_megapixels)
    image = resize_to_fit(content, options.max_side, 8)
    report(Progress(0.0, f"stylising {image.width}x{image.height}"))
    result = tensor_to_pil(stylizer.stylize_frames(pil_to_tensor(image))[0].cpu())
    report(Progress(1.0, "done"))
    return result


def normalise_style_weights(style_weights: tuple[float, ...] | None, count: int) -> list[float]:
    """One non-negative weight per style, summing to 1 (equal weights when ``None``)."""
    if style_weights is None:
        return [1.0 / count] * count
    if len(style_weights) != count:
        raise StyleTransferError(
            f"{len(style_weights)} style weights given for {count} style images; give one each")
    if any(w < 0 for w in style_weights) or sum(style_weights) <= 0:
        raise StyleTransferError("style weights must be non-negative and not all zero")
    total = float(sum(style_weights))
    return [w / total for w in style_weights]


def style_mix(styles: list[Image.Image], options: StyleOptions) -> list[float]:
    """Check the style images and strength a feed-forward engine was given and return the
    normalised weight of each style."""
    if not styles:
        raise StyleTransferError("give at least one style image")
    if not 0.0 <= options.alpha <= 1.0:
        raise StyleTransferError(f"style strength is {options.alpha}; use 0 to 1")
    return normalise_style_weights(options.style_weights, len(styles))
