"""Every kind of bad image file becomes a StyleTransferError a person can act on."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from app.engine.errors import StyleTransferError
from app.engine.images import load_image


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width x height`` (no pixel data worth the name)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


def _truncated_png() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 50).convert("RGB").save(buffer, "PNG")
    data = buffer.getvalue()
    return data[: len(data) // 2]


@pytest.mark.parametrize("name, data, message", [
    ("empty.png", b"", "empty"),
    ("notes.png", b"this is a text file, not a picture", "not an image"),
    ("truncated.png", _truncated_png(), "truncated"),
    ("zero.png", _png_header(0, 0), "not an image|no pixels"),
    ("huge.png", _png_header(50_000, 50_000), "too large|megapixels"),
], ids=["empty", "text", "truncated", "0x0", "50000x50000"])
def test_bad_files(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(StyleTransferError, match=message):
        load_image(path, "style image")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StyleTransferError, match="does not exist"):
        load_image(tmp_path / "absent.jpg", "content image")


def test_each_engines_smallest_side_is_its_networks_own() -> None:
    """The web refuses uploads by ``EngineSpec.min_side`` (torch-free); it must be what the
    engines themselves need."""
    from app.engine.methods.adain import stylizer as adain
    from app.engine.methods.gatys import optimise as gatys
    from app.engine.methods.deepdream.networks import NETWORKS
    from app.engine.registry import BY_NAME

    assert BY_NAME["adain"].min_side == adain.MIN_SIDE
    assert BY_NAME["gatys"].min_side == BY_NAME["gatys-lite"].min_side == gatys.MIN_SIDE
    assert BY_NAME["deepdream"].min_side == max(net.min_side for net in NETWORKS.values())
    assert BY_NAME["microast"].min_side == 8          # fit_size's own floor: it never fails


def test_a_style_image_too_thin_for_the_engines_is_refused_in_words() -> None:
    """MicroAST's first 9x9 filter failed with a RuntimeError on a 10000x2 style."""
    from app.engine.methods.microast.network import prepare_style

    with pytest.raises(StyleTransferError, match="10000x2, too thin to use"):
        prepare_style(Image.new("RGB", (10000, 2)))
    assert tuple(prepare_style(Image.new("RGB", (300, 12))).shape[-2:]) == (20, 512)
