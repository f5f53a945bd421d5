"""Hostile files, generated on the fly (nothing stored in git): what a public upload form
gets thrown at it. Each builder returns the bytes; :data:`REFUSED` and :data:`ACCEPTED`
say what the server must do with them."""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import av
import numpy as np
from PIL import Image

from tests.support.images import png_bytes
from tests.support.shared import shared_dir


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def bomb_png(width: int = 50_000, height: int = 50_000) -> bytes:
    """A 100-byte PNG whose header claims 50000x50000 pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + _chunk(b"IEND", b""))


def png_with_chunks(*chunks: tuple[bytes, bytes], side: int = 8) -> bytes:
    """A valid small RGB PNG with ``chunks`` (type, data) placed before its image data."""
    header = side.to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    rows = b"".join(b"\x00" + bytes(3 * side) for _ in range(side))
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + b"".join(_chunk(kind, data) for kind, data in chunks)
            + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b""))


def iccp_bomb() -> bytes:
    """An ICC profile chunk whose 40 KB inflate to 40 MB (Pillow's limit is far lower)."""
    return png_with_chunks((b"iCCP", b"bomb\x00\x00" + zlib.compress(b"\x00" * 40_000_000, 9)))


def ztxt_bomb() -> bytes:
    """A compressed text chunk whose 40 KB inflate to 40 MB."""
    return png_with_chunks((b"zTXt", b"Comment\x00\x00" + zlib.compress(b"a" * 40_000_000, 9)))


def many_ztxt_chunks(count: int = 200) -> bytes:
    """``count`` text chunks of 512 KB each once inflated: 100 MB of text in all, over
    Pillow's per-image text budget."""
    chunk = b"Comment\x00\x00" + zlib.compress(b"a" * 512 * 1024, 9)
    return png_with_chunks(*[(b"zTXt", chunk)] * count)


def png_cut_in_metadata() -> bytes:
    """``head -c 3000 chelsea.png``: the file ends inside a text chunk, before any pixels."""
    from tests.support.shared import shared_file

    return shared_file("media/chelsea.png").read_bytes()[:3000]


def gif_with_frames(count: int = 5000, side: int = 4) -> bytes:
    """An animated GIF with thousands of tiny frames (alternating, so none are merged)."""
    frames = [Image.new("P", (side, side), i % 2) for i in range(count)]
    for frame in frames:
        frame.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=20, loop=0)
    return buffer.getvalue()


def noise_image(fmt: str, side: int = 96) -> bytes:
    """A JPEG or PNG of noise (does not compress, so a cut leaves pixels missing)."""
    pixels = random.Random(1).randbytes(side * side * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(buffer, fmt)
    return buffer.getvalue()


def jpeg_bytes(colour: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (80, 64), colour).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def jpeg_with_gps() -> bytes:
    """A photo carrying EXIF with a camera name and GPS position."""
    image = Image.fromarray(np.random.default_rng(2).integers(0, 255, (64, 96, 3), np.uint8))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (51.0, 30.0, 12.5)       # GPSLatitudeRef, GPSLatitude
    gps[3], gps[4] = "W", (0.0, 7.0, 39.0)         # GPSLongitudeRef, GPSLongitude
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def polyglot_png_zip() -> bytes:
    """A valid PNG with a ZIP archive appended (opens as either)."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("payload.html", "<script>alert(document.cookie)</script>")
    return png_bytes((64, 48), seed=4) + archive.getvalue()


SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
       b'<script>alert(document.cookie)</script><rect width="64" height="64"/></svg>')
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


def hls_playlist(target: str) -> bytes:
    return (f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n{target}\n"
            "#EXT-X-ENDLIST\n").encode()


def ffconcat(target: str) -> bytes:
    return f"ffconcat version 1.0\nfile '{target}'\nduration 10\n".encode()


def _encode(path_or_buffer: io.BytesIO, frames: list[tuple[int, int]], rate: int = 24,
            audio_only: bool = False) -> None:
    """Write an MP4: ``frames`` as (pts, seconds-timebase) pairs, or one second of silence."""
    with av.open(path_or_buffer, mode="w", format="mp4") as out:
        if audio_only:
            stream = out.add_stream("aac", rate=44100)
            stream.layout = "mono"
            samples = np.zeros((1, 1024), np.float32)
            for i in range(44):
                frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 44100, i * 1024
                for packet in stream.encode(frame):
                    out.mux(packet)
        else:
            stream = out.add_stream("libx264", rate=rate)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            stream.time_base = Fraction(1, rate)
            for pts, value in frames:
                frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), value, np.uint8),
                                                   format="rgb24")
                frame.pts, frame.time_base = pts, stream.time_base
                for packet in stream.encode(frame):
                    out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def audio_only_mp4() -> bytes:
    """An MP4 with one second of silent AAC and no picture at all."""
    buffer = io.BytesIO()
    _encode(buffer, [], audio_only=True)
    return buffer.getvalue()


def ten_hour_mp4() -> bytes:
    """A silent MP4 whose header says it lasts ten hours (two frames, 10 h apart)."""
    buffer = io.BytesIO()
    _encode(buffer, [(0, 0), (10 * 3600 * 24, 255)])
    return buffer.getvalue()


def clip() -> bytes:
    return (shared_dir("media") / "pan_24fps_2s.mp4").read_bytes()


@dataclass(frozen=True)
class Refused:
    """A file the server must refuse: where it goes, the status and words of the reason."""

    build: Callable[[], bytes]
    filename: str
    status: int
    reason: str
    field: str = "content"


REFUSED: dict[str, Refused] = {
    "png bomb 50000x50000": Refused(bomb_png, "tiny.png", 422, "too large"),
    "png bomb as style": Refused(bomb_png, "tiny.png", 422, "style image", field="style"),
    "gif with 5000 frames": Refused(gif_with_frames, "anim.gif", 422, "frames; the limit is"),
    "truncated jpeg": Refused(lambda: noise_image("JPEG")[:1500], "cut.jpg", 422,
                              "damaged or truncated"),
    "truncated png": Refused(lambda: noise_image("PNG")[:2000], "cut.png", 422,
                             "damaged or truncated"),
    "truncated mp4": Refused(lambda: clip()[: len(clip()) // 3], "cut.mp4", 422, "video"),
    "zero bytes": Refused(lambda: b"", "empty.jpg", 422, "empty file"),
    "zero bytes style": Refused(lambda: b"", "empty.png", 422, "empty file", field="style"),
    "plain text": Refused(lambda: b"hello, I am text\n" * 10, "notes.jpg", 415, "not an image"),
    "html as png": Refused(lambda: HTML, "photo.png", 415, "not an image"),
    "svg as png": Refused(lambda: SVG, "photo.png", 415, "not an image"),
    "svg as style": Refused(lambda: SVG, "style.svg", 415, "not an image", field="style"),
    "hls playlist to /etc/passwd": Refused(lambda: hls_playlist("file:///etc/passwd"),
                                           "clip.mp4", 415, "not an image"),
    "hls playlist to http": Refused(lambda: hls_playlist("http://127.0.0.1:9/seg.ts"),
                                    "clip.m3u8", 415, "not an image"),
    "ffconcat to /etc/passwd": Refused(lambda: ffconcat("file:///etc/passwd"), "clip.mp4",
                                       415, "not an image"),
    "ffconcat to http": Refused(lambda: ffconcat("http://127.0.0.1:9/a.mp4"), "clip.mov",
                                415, "not an image"),
    "png cut inside a metadata chunk": Refused(png_cut_in_metadata, "chelsea.png", 422,
                                               "damaged or truncated"),
    "png cut inside a metadata chunk as style": Refused(png_cut_in_metadata, "chelsea.png",
                                                        422, "damaged or truncated",
                                                        field="style"),
    "iccp decompression bomb": Refused(iccp_bomb, "icc.png", 422, "damaged or truncated"),
    "iccp decompression bomb as style": Refused(iccp_bomb, "icc.png", 422,
                                                "damaged or truncated", field="style"),
    "ztxt decompression bomb": Refused(ztxt_bomb, "text.png", 422, "damaged or truncated"),
    "200 ztxt chunks": Refused(many_ztxt_chunks, "texts.png", 422, "damaged or truncated"),
    "200 ztxt chunks as style": Refused(many_ztxt_chunks, "texts.png", 422,
                                        "damaged or truncated", field="style"),
    "mp4 without a video stream": Refused(audio_only_mp4, "song.mp4", 422,
                                          "no video stream"),
    "10-hour silent mp4": Refused(ten_hour_mp4, "long.mp4", 422, "10:00:00 long"),
}


@dataclass(frozen=True)
class Accepted:
    """A file the server may take: what type it must be stored and served as."""

    build: Callable[[], bytes]
    filename: str
    served_type: str
    suffix: str


ACCEPTED: dict[str, Accepted] = {
    "jpeg named .png": Accepted(jpeg_bytes, "photo.png", "image/jpeg", ".jpg"),
    "png named .jpg": Accepted(lambda: png_bytes((64, 48)), "photo.jpg", "image/png", ".png"),
    "png with a zip appended": Accepted(polyglot_png_zip, "photo.png", "image/png", ".png"),
}


def all_files_under(folder: Path) -> set[str]:
    """Every file below ``folder``, temporary ones included."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
