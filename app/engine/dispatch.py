"""The engines' front door: pick the engine from the registry, give it verified weights, run it.

The job runner, the CLI and the video pipeline call only what is here:

- :func:`stylize_image` — one content image (plus style images) to one result image;
- :func:`make_frame_stylizer` — style features computed once, then batches of video frames;
- :func:`resolve_engine` — ``auto`` or a name to the :class:`EngineSpec` that will run.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any, Callable

from PIL import Image

from app.engine.errors import StyleTransferError
from app.engine.options import StyleOptions
from app.engine.registry import auto_candidates, get_engine
from app.engine.spec import EngineSpec
from app.engine.types import CancelToken, FrameStylizer, ProgressCallback
from app.engine.weights.store import WeightStore


def resolve_engine(name: str, store: WeightStore) -> EngineSpec:
    """``auto`` becomes the best engine whose weights are installed; any other name must be
    registered."""
    if name != "auto":
        return get_engine(name)
    for spec in auto_candidates():
        if store.engine_ready(spec):
            return spec
    return auto_candidates()[-1]   # nothing ready: its weights error names what to fetch


def _entry(path: str) -> Callable[..., Any]:
    module, _, function = path.partition(":")
    return getattr(import_module(module), function)


def check_style_count(spec: EngineSpec, count: int,
                      style_weights: tuple[float, ...] | None) -> None:
    """Refuse, in words, a number of style images ``spec`` cannot take, or style weights
    that are not one per style: the one check the create form, the command line and the
    engines' front door share. (A trained model's style weights are one per style of the
    model: its stylizer checks them.)"""
    if spec.needs_style and count == 0:
        raise StyleTransferError("choose at least one style image")
    if spec.mode == "dream" and count > 1:
        raise StyleTransferError(f"{spec.label} takes at most one guide image, not {count}")
    if style_weights is not None and len(style_weights) != count and not spec.takes_model:
        raise StyleTransferError(f"{len(style_weights)} style weights given for {count} "
                                 "style images; give one per style or none")


def stylize_image(content: Image.Image, styles: list[Image.Image], options: StyleOptions,
                  store: WeightStore, on_progress: ProgressCallback | None = None,
                  cancel: CancelToken | None = None, mask: Image.Image | None = None,
                  start: Image.Image | None = None) -> Image.Image:
    """Run the engine ``options.engine`` on one image; raises
    :class:`~app.engine.errors.StyleTransferError` on bad input (and
    :class:`~app.engine.errors.WeightsMissingError` without weights) and
    :class:`~app.engine.errors.Cancelled` when ``cancel`` is set. ``mask`` (greyscale,
    any size) says where the style goes (:mod:`app.engine.masked`); ``start`` is the
    picture an engine that refines a result (``spec.refines_result``) starts from."""
    spec = resolve_engine(options.engine, store)
    check_style_count(spec, len(styles), options.style_weights)
    weights = store.engine_paths(spec)
    extra = {"start": start} if start is not None and spec.refines_result else {}
    if mask is not None:
        from app.engine.masked import stylize_masked

        return stylize_masked(spec, content, styles, options, weights, mask, on_progress,
                              cancel, extra)
    if spec.image_entry is None:     # a feed-forward engine: its frame stylizer, one frame
        from app.engine.feedforward import stylize_single

        stylizer = _entry(spec.frames_entry or "")(styles, options, weights)
        return stylize_single(stylizer, content, options, on_progress=on_progress,
                              cancel=cancel)
    return _entry(spec.image_entry)(content, styles, options, weights, on_progress, cancel,
                                    **extra)


def make_frame_stylizer(styles: list[Image.Image], options: StyleOptions,
                        store: WeightStore) -> FrameStylizer:
    """Load the video engine named by ``options`` (its networks cached per device) and
    encode ``styles`` once, mixed by ``options.style_weights``."""
    spec = resolve_engine(options.engine, store)
    if spec.frames_entry is None:
        raise StyleTransferError(video_refusal(spec))
    check_style_count(spec, len(styles), options.style_weights)
    return _entry(spec.frames_entry)(styles, options, store.engine_paths(spec))


def video_refusal(spec: EngineSpec) -> str:
    """Why ``spec`` cannot make a clip, and which engines can."""
    from app.engine.registry import video_engines

    choices = " or ".join(s.label for s in video_engines())
    return f"{spec.label} works on pictures only; choose {choices} for a clip"
