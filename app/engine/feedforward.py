"""One image through a feed-forward engine (AdaIN, MicroAST): resize, one batch, back to PIL."""

from __future__ import annotations

from PIL import Image

from app.engine.api import CancelToken, FrameStylizer, Progress, ProgressCallback, StyleOptions
from app.engine.errors import Cancelled
from app.engine.images import (DEFAULT_MAX_MEGAPIXELS, check_megapixels, pil_to_tensor,
                               resize_to_fit, tensor_to_pil)


def stylize_single(stylizer: FrameStylizer, content: Image.Image, options: StyleOptions,
                   on_progress: ProgressCallback | None = None,
                   cancel: CancelToken | None = None) -> Image.Image:
    """``content`` scaled to fit ``options.max_side`` (sides multiples of 8), stylised in one
    batch of one, as an RGB PIL image. Reports progress at start and end; checks ``cancel``
    before the (uninterruptible) forward pass."""
    report = on_progress or (lambda progress: None)
    if cancel is not None and cancel.is_set():
        raise Cancelled()
    check_megapixels(content.width, content.height, "content image", DEFAULT_MAX_MEGAPIXELS)
    image = resize_to_fit(content, options.max_side, 8)
    report(Progress(0.0, f"stylising {image.width}x{image.height}"))
    result = tensor_to_pil(stylizer.stylize_frames(pil_to_tensor(image))[0].cpu())
    report(Progress(1.0, "done"))
    return result
