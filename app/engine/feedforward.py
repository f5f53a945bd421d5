"""What the feed-forward engines (AdaIN, MicroAST, trained models) share: the :class:`FeedForwardStylizer`
base (devices, style mixing, tiling decisions, colour keeping, the strength-preview record,
the CUDA compile path), style-image preparation, and one picture through a stylizer.

A feed-forward engine encodes its style images once (:meth:`FeedForwardStylizer.encode_styles`)
and then costs one network pass per batch of frames (:meth:`FeedForwardStylizer.forward_eager`);
batches larger than memory allows go through its own seamless
:meth:`FeedForwardStylizer.stylize_tiled`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, TypeVar

import torch
import torch.nn.functional as F
from PIL import Image

from app.engine.color import keep_content_chroma
from app.engine.device import inference_dtype, pick_device
from app.engine.errors import Cancelled, StyleTransferError
from app.engine.images import (
    check_megapixels,
    check_style_shape,
    pil_to_tensor,
    resize_to_fit,
    tensor_to_pil,
)
from app.engine.options import StyleOptions
from app.engine.spec import WeightFile
from app.engine.tiling import Tile, max_untiled_pixels, tile_grid, tile_layout
from app.engine.types import CancelToken, FrameStylizer, Progress, ProgressCallback

Key = TypeVar("Key")


class FeedForwardStylizer:
    """A :class:`~app.engine.types.FrameStylizer` with its style encoded once.

    Subclasses set :attr:`BYTES_PER_PIXEL` (peak memory of a batch per pixel in fp32,
    measured: decides when to tile; halved for fp16), :attr:`PAD_MULTIPLE` (network input
    sides are reflection-padded to it and cropped back) and implement
    :meth:`load_networks`, :meth:`encode_styles`, :meth:`forward_eager` and
    :meth:`stylize_tiled`. fp16 and channels_last on CUDA, fp32 on the CPU.
    """

    BYTES_PER_PIXEL = 600
    PAD_MULTIPLE = 1

    def __init__(self, styles: list[Image.Image], options: StyleOptions,
                 weights: Mapping[str, Path]):
        mix = style_mix(styles, options)
        self.setup(options, weights)
        used = [(style, w) for style, w in zip(styles, mix) if w > 0]
        with torch.inference_mode():
            self.encode_styles([s for s, _ in used], [w for _, w in used],
                               options.max_megapixels)

    def setup(self, options: StyleOptions, weights: Mapping[str, Path]) -> None:
        """Device, precision, strength, tiling and colour choices, the networks (from the
        shared cache) and the forward pass (compiled on CUDA when asked): everything but the
        styles. A subclass whose styles are not images calls it from its own ``__init__``."""
        self.device = pick_device(options.device)
        self.dtype = inference_dtype(self.device)
        self.alpha = float(options.alpha)
        self.preserve_color = options.preserve_color
        self.tile_megapixels, self.tile_side = options.tile_megapixels, options.tile_side
        self.load_networks(weights)
        self._forward = self.forward_eager
        if options.compiled and self.device.type == "cuda":
            from app.engine.compiled import compile_for_cuda

            self._forward = compile_for_cuda(self.forward_eager)
        self.kept: dict[str, torch.Tensor] | None = None

    # ------------------------------------------------------------------ for subclasses
    def load_networks(self, weights: Mapping[str, Path]) -> None:
        """Load (from the shared cache) the networks on :attr:`device` in :attr:`dtype`."""
        raise NotImplementedError

    def encode_styles(self, styles: list[Image.Image], weights: list[float],
                      max_megapixels: float) -> None:
        """Encode ``styles`` and keep their mix by ``weights`` (which sum to 1)."""
        raise NotImplementedError

    def forward_eager(self, x: torch.Tensor) -> torch.Tensor:
        """Padded network input in :attr:`dtype` on :attr:`device` to the raw output; records
        what a strength preview needs in :attr:`kept` when that is a dict."""
        raise NotImplementedError

    def stylize_tiled(self, frames: torch.Tensor, tile_side: int = 0) -> torch.Tensor:
        """:meth:`stylize_frames` tile by tile, with whole-image statistics."""
        raise NotImplementedError

    def check_frame_size(self, height: int, width: int) -> None:
        """Raise :class:`StyleTransferError` for frames the network cannot take."""

    def stylize_masked(self, frames: torch.Tensor, region: torch.Tensor,
                       rest: "FeedForwardStylizer | None") -> torch.Tensor:
        """One (1, 3, H, W) picture (sides multiples of 8) with this stylizer's style where
        ``region`` ((1, 1, H, W) in [0, 1]) is painted and ``rest``'s style elsewhere (None:
        the photo's own statistics), mixed in feature space so the decoder sees one feature
        map (:mod:`app.engine.masked`); float32 in [0, 1] on :attr:`device`, untiled."""
        raise NotImplementedError

    # ------------------------------------------------------------------ shared
    def keep_for_strength_preview(self) -> None:
        """Record the next untiled pass's input and content features in :attr:`kept`
        (:mod:`app.engine.strength_preview`); eager, so nothing compiled has to know."""
        self.kept = {}
        self._forward = self.forward_eager

    def _max_pixels(self) -> int:
        per_pixel = self.BYTES_PER_PIXEL * (0.5 if self.dtype == torch.float16 else 1.0)
        return max_untiled_pixels(self.device, per_pixel, self.tile_megapixels)

    def padded_tiles(self, frames: torch.Tensor, context: int, multiple: int,
                     tile_side: int = 0) -> tuple[torch.Tensor, list[Tile], int]:
        """``frames`` (float32) reflection-padded to sides that are multiples of
        ``multiple``, the tiles that cover them (each with up to ``context`` pixels of
        context) and the tiles' overlap: what a seamless tiled pass starts from."""
        side, overlap = tile_layout(self._max_pixels() // frames.shape[0],
                                    tile_side or self.tile_side, context)
        height, width = frames.shape[-2:]
        pad_h, pad_w = (-height) % multiple, (-width) % multiple
        padded = F.pad(frames.float(), (0, pad_w, 0, pad_h), mode="reflect") \
            if pad_h or pad_w else frames.float()
        tiles = tile_grid(padded.shape[-2], padded.shape[-1], side, overlap, multiple, context)
        return padded, tiles, overlap

    def needs_tiles(self, frames: torch.Tensor) -> bool:
        """Whether ``frames`` (B x H x W pixels) exceed what runs in one piece here."""
        return frames.shape[0] * frames.shape[-2] * frames.shape[-1] > self._max_pixels()

    def _to_device(self, frames: torch.Tensor, dtype: torch.dtype = torch.float32
                   ) -> torch.Tensor:
        if frames.device.type == "cpu" and self.device.type == "cuda":
            frames = frames.pin_memory().to(self.device, non_blocking=True)  # overlaps the queue
        return frames.to(self.device, dtype).contiguous(memory_format=torch.channels_last)

    def _finish(self, out: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
        """The raw output as float32 in [0, 1], with the content's chroma when colours are
        kept (:func:`~app.engine.color.keep_content_chroma`)."""
        out = out.float()
        if self.preserve_color:
            out = keep_content_chroma(out, content.to(self.device, torch.float32))
        return out.clamp_(0.0, 1.0).contiguous()

    def stylize_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) floats in [0, 1] to stylised frames of the same shape in [0, 1]
        (float32 on :attr:`device`). Batches larger than memory allows (or than
        ``StyleOptions.tile_megapixels``) go through :meth:`stylize_tiled`."""
        if frames.dim() != 4 or frames.shape[1] != 3:
            raise StyleTransferError(
                f"expected frames of shape (B, 3, H, W), got {tuple(frames.shape)}")
        height, width = frames.shape[-2:]
        self.check_frame_size(height, width)
        if self.needs_tiles(frames):
            return self.stylize_tiled(frames)
        with torch.inference_mode():
            content = self._to_device(frames)
            pad_h, pad_w = (-height) % self.PAD_MULTIPLE, (-width) % self.PAD_MULTIPLE
            x = F.pad(content, (0, pad_w, 0, pad_h), mode="reflect") if pad_h or pad_w \
                else content
            out = self._forward(x.to(self.dtype).contiguous(memory_format=torch.channels_last))
            return self._finish(out[..., :height, :width], content)


def weight_paths(weights: Mapping[str, Path], files: Mapping[Key, WeightFile],
                 engine: str) -> dict[Key, Path]:
    """The checkpoint path of each of ``files`` (keyed as ``files`` is), from ``weights``
    keyed by weight-file name as the dispatcher gives them."""
    expected = {f.name for f in files.values()}
    if set(weights) != expected:
        raise StyleTransferError(f"unknown {engine} weight(s) {sorted(set(weights) - expected)}; "
                                 f"expected {sorted(expected)}")
    return {key: Path(weights[f.name]) for key, f in files.items()}


def prepare_style(image: Image.Image, side: int, min_side: int,
                  max_megapixels: float = 40.0) -> torch.Tensor:
    """A style image scaled (up or down) so its longer side is ``side`` px (the size the
    network saw its styles at in training), each side at least ``min_side``, as
    (1, 3, H, W)."""
    check_megapixels(image.width, image.height, "style image", max_megapixels)
    check_style_shape(image.width, image.height)
    scale = side / max(image.size)
    size = (max(min_side, round(image.width * scale)), max(min_side, round(image.height * scale)))
    if size != image.size:
        image = image.resize(size, Image.Resampling.LANCZOS)
    return pil_to_tensor(image)


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
