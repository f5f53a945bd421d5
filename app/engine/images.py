"""Reading images safely and moving them between PIL and tensors.

Every engine takes PIL images through :func:`load_image` so orientation, odd modes and size
limits are handled once: EXIF orientation applied, RGBA composited on white, greyscale and
palette images converted to RGB, decompression bombs refused with a readable message.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from app.engine.errors import StyleTransferError

DEFAULT_MAX_MEGAPIXELS = 40.0
# The feed-forward engines look at a style image scaled to STYLE_SIDE px on its longer side
# (as in their training); the shorter side then needs MIN_STYLE_SIDE px for the deepest
# layer they read (VGG's relu4_1 at 1/8: 2 px; MicroAST's first 9x9 filter fails under 5).
STYLE_SIDE = 512
MIN_STYLE_SIDE = 16

ImageSource = str | Path | bytes | BinaryIO | Image.Image
# What the decoders' own words ("Truncated File Read", "broken data stream") become; the
# exception stays chained for the log.
DAMAGED = ("{what} is damaged or truncated (part of it is missing or garbled), so it cannot "
           "be read; save or export it again and retry")
TOO_MANY_PIXELS = ("{what} is too large to open safely: it says it holds far more pixels than "
                   "a picture needs (a file built to exhaust memory, or a damaged one)")


# What Pillow's decoders raise on damaged, cut-off or lying files: truncated reads and bad
# chunks (OSError, SyntaxError, EOFError, struct.error), decompression of corrupt or oversized
# chunks (zlib.error, ValueError: "Decompressed data too large", too many text chunks), and
# headers that contradict the data (TypeError, IndexError, KeyError, ZeroDivisionError).
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error,
                 TypeError, IndexError, KeyError, ZeroDivisionError)


def _open(source: ImageSource, what: str) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise StyleTransferError(f"{what} {path.name!r} does not exist")
        source = path.read_bytes()
    if isinstance(source, bytes):
        if not source:
            raise StyleTransferError(f"{what} is an empty file")
        source = io.BytesIO(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(source)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise StyleTransferError(TOO_MANY_PIXELS.format(what=what)) from exc
    except UnidentifiedImageError as exc:
        raise StyleTransferError(f"{what} is not an image we can read; use a JPEG, PNG, "
                                 "WebP, GIF or HEIC") from exc
    except DECODE_ERRORS as exc:
        raise StyleTransferError(DAMAGED.format(what=what)) from exc


def open_decoded(source: ImageSource, what: str, max_megapixels: float) -> Image.Image:
    """``source`` opened and fully decoded as it is (mode and alpha kept: a mask's
    transparency matters), within ``max_megapixels``, or :class:`StyleTransferError`."""
    image = _open(source, what)
    check_megapixels(image.width, image.height, what, max_megapixels)
    try:
        image.seek(0)
        image.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise StyleTransferError(TOO_MANY_PIXELS.format(what=what)) from exc
    except DECODE_ERRORS as exc:
        raise StyleTransferError(DAMAGED.format(what=what)) from exc
    return image


def check_megapixels(width: int, height: int, what: str, max_megapixels: float) -> None:
    """Raise unless ``width x height`` is a non-empty image within ``max_megapixels``."""
    if width <= 0 or height <= 0:
        raise StyleTransferError(f"{what} is {width}x{height}; it has no pixels")
    if width * height > max_megapixels * 1_000_000:
        raise StyleTransferError(
            f"{what} is {width}x{height}; the limit is {max_megapixels:g} megapixels")


def check_style_shape(width: int, height: int, what: str = "style image") -> None:
    """Refuse a style (or guide) image too thin for the engines: at most
    ``STYLE_SIDE / MIN_STYLE_SIDE`` (32) times as long as it is wide."""
    shorter = min(width, height) * STYLE_SIDE / max(width, height, 1)
    if shorter < MIN_STYLE_SIDE:
        raise StyleTransferError(
            f"{what} is {width}x{height}, too thin to use: the engines look at it "
            f"{STYLE_SIDE} px long, and it would then be {max(1, round(shorter))} px wide; "
            f"they need at least {MIN_STYLE_SIDE} (at most {STYLE_SIDE // MIN_STYLE_SIDE} times "
            "as long as wide). Crop it to a squarer piece")


def load_image(source: ImageSource, what: str = "image",
               max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
               max_side: int | None = None) -> Image.Image:
    """Decode ``source`` fully into an upright RGB image or raise :class:`StyleTransferError`.

    ``what`` names the image in messages ("style image is 12000x9000; the limit is ...").
    Animated images give their first frame. With ``max_side`` the image comes back no larger
    than that on its longer side, and a JPEG is decoded at a reduced scale (``draft``) in the
    first place, so a 40-megapixel style image costs a fraction of its full-size memory.
    """
    image = _open(source, what)
    check_megapixels(image.width, image.height, what, max_megapixels)
    try:
        image.seek(0)
        if max_side is not None and image.format == "JPEG":
            image.draft("RGB", _draft_size(image.size, max_side))
        image.load()
        image = ImageOps.exif_transpose(image) if _needs_transpose(image) else image
        image = to_rgb(image)
        if max_side is not None and max(image.size) > max_side:
            # a box reduction by a whole factor first, then Lanczos for the rest: a 40 MP
            # PNG to 2048 px in 0.1 s instead of 0.5 s, and no visible difference after the
            # engines' own downscaling of style images
            image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=1.5)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise StyleTransferError(TOO_MANY_PIXELS.format(what=what)) from exc
    except DECODE_ERRORS as exc:
        raise StyleTransferError(DAMAGED.format(what=what)) from exc
    return image


def _needs_transpose(image: Image.Image) -> bool:
    """Whether the EXIF orientation asks for a turn (``exif_transpose`` copies the image even
    when it does not: 120 MB more at 40 megapixels)."""
    return image.getexif().get(0x0112, 1) not in (1, None)


def _draft_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """The size to ask ``draft`` for so the decoded image is still at least ``max_side`` on
    its longer side (``draft`` picks the smallest DCT scale at or above the request)."""
    scale = min(1.0, max_side / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB copy of ``image``; transparency is composited over white."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        array = array / max(1.0, float(array.max())) * 255.0
        image = Image.fromarray(array.astype(np.uint8))
    return image.convert("RGB")


def fit_size(width: int, height: int, max_side: int, multiple: int = 8) -> tuple[int, int]:
    """Scale ``(width, height)`` so the longer side is at most ``max_side``, keeping the aspect
    ratio, then round each side to a multiple of ``multiple`` (at least one multiple)."""
    if max_side < multiple:
        raise StyleTransferError(f"output size {max_side} is too small; use at least {multiple}")
    scale = min(1.0, max_side / max(width, height))
    w = max(multiple, int(round(width * scale / multiple)) * multiple)
    h = max(multiple, int(round(height * scale / multiple)) * multiple)
    return w, h


def resize_to_fit(image: Image.Image, max_side: int, multiple: int = 8) -> Image.Image:
    """``image`` resized by :func:`fit_size` with a high-quality filter (no-op if it fits)."""
    size = fit_size(image.width, image.height, max_side, multiple)
    return image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB PIL image to a float tensor of shape (1, 3, H, W) in [0, 1]."""
    array = np.asarray(to_rgb(image), dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)


def tensor_to_pil(tensor: torch.Tensor) -> Image.Image:
    """A (3, H, W) or (1, 3, H, W) tensor in [0, 1] to an RGB PIL image (values clamped)."""
    if tensor.dim() == 4:
        if tensor.shape[0] != 1:
            raise ValueError("tensor_to_pil takes one image; index the batch first")
        tensor = tensor[0]
    array = tensor.detach().float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0)
    return Image.fromarray(array.cpu().numpy(), "RGB")


def megapixels(image: Image.Image) -> float:
    """Size of ``image`` in megapixels (for messages and limits)."""
    return image.width * image.height / 1e6

