"""Fuzzing the upload: mutated PNG, JPEG, GIF, WebP and MP4 files as content and as style.

Each real file is cut at every chunk (marker, block, box) boundary, gets seeded bit flips,
and gets headers that lie about its size. Whatever the decoders make of them, the answer is
never a 5xx: a 4xx with a reason (and nothing stored), or a 201 for what still decodes.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections import Counter
from typing import Callable, Iterator

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.settings import Settings
from app.web.main import create_app
from tests.reliability.corpus import all_files_under
from tests.support.shared import shared_file
from tests.web.conftest import image_files, job_count, submit

FLIPS_PER_FILE = 12
SEED = 20261201


def _photo(side: int = 48) -> Image.Image:
    image = Image.open(shared_file("media/chelsea.png")).convert("RGB")
    image.thumbnail((side, side))
    return image


def real_file(fmt: str) -> bytes:
    """A small real file of ``fmt`` (PNG, JPEG, GIF, WEBP or MP4)."""
    if fmt == "MP4":
        return _mp4()
    buffer = io.BytesIO()
    image = _photo()
    if fmt == "GIF":
        frames = [image.rotate(angle) for angle in (0, 90, 180)]
        frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=80)
    else:
        image.save(buffer, fmt, **({"quality": 90} if fmt in ("JPEG", "WEBP") else {}))
    return buffer.getvalue()


def _mp4() -> bytes:
    buffer = io.BytesIO()
    frame = np.asarray(_photo(64).resize((64, 48)))
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for shift in range(6):
            rgb = np.roll(frame, shift * 3, axis=1)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode(None))
    return buffer.getvalue()


# ----------------------------------------------------------------------------- boundaries
def png_boundaries(data: bytes) -> Iterator[int]:
    offset = 8
    while offset + 8 <= len(data):
        yield offset
        yield offset + 8                                  # inside: right after the type
        offset += 12 + int.from_bytes(data[offset:offset + 4], "big")


def jpeg_boundaries(data: bytes) -> Iterator[int]:
    offset = 2
    while offset + 4 <= len(data) and data[offset] == 0xFF:
        yield offset
        marker = data[offset + 1]
        if marker == 0xDA:                                # start of scan: entropy data follows
            yield offset + 4
            yield (offset + len(data)) // 2
            return
        offset += 2 + int.from_bytes(data[offset + 2:offset + 4], "big")


def riff_boundaries(data: bytes) -> Iterator[int]:
    offset = 12
    while offset + 8 <= len(data):
        yield offset
        yield offset + 8
        size = int.from_bytes(data[offset + 4:offset + 8], "little")
        offset += 8 + size + (size & 1)


def box_boundaries(data: bytes, start: int = 0, end: int | None = None,
                   depth: int = 0) -> Iterator[int]:
    end = len(data) if end is None else end
    offset = start
    while offset + 8 <= end:
        size = int.from_bytes(data[offset:offset + 4], "big") or end - offset
        kind = data[offset + 4:offset + 8]
        yield offset
        yield offset + 8
        if depth < 3 and kind in (b"moov", b"trak", b"mdia", b"minf", b"stbl"):
            yield from box_boundaries(data, offset + 8, offset + size, depth + 1)
        offset += max(size, 8)


def gif_boundaries(data: bytes) -> Iterator[int]:
    yield from (6, 13)                                    # after the header and screen block
    introducers = [i for i, byte in enumerate(data) if byte in (0x21, 0x2C) and i > 13]
    yield from introducers[::max(1, len(introducers) // 40)]    # about 40 of them


BOUNDARIES: dict[str, Callable[[bytes], Iterator[int]]] = {
    "PNG": png_boundaries, "JPEG": jpeg_boundaries, "WEBP": riff_boundaries,
    "MP4": box_boundaries, "GIF": gif_boundaries}


# ----------------------------------------------------------------------------- lies
def _png_lie(data: bytes, width: int, height: int) -> bytes:
    body = struct.pack(">II", width, height) + data[24:29]
    return data[:16] + body + struct.pack(">I", zlib.crc32(b"IHDR" + body)) + data[33:]


def _find(data: bytes, needle: bytes) -> int:
    index = data.find(needle)
    assert index >= 0, needle
    return index


def lying_headers(fmt: str, data: bytes) -> Iterator[tuple[str, bytes]]:
    """Files whose size fields say something else than their data."""
    if fmt == "PNG":
        for w, h in ((65535, 65535), (1, 1), (0, 48), (48, 0x7FFFFFFF)):
            yield f"IHDR {w}x{h}", _png_lie(data, w, h)
    elif fmt == "JPEG":
        sof = _find(data, b"\xff\xc0") + 5
        for w, h in ((65535, 65535), (1, 1), (0, 0)):
            yield f"SOF {w}x{h}", data[:sof] + struct.pack(">HH", h, w) + data[sof + 4:]
    elif fmt == "GIF":
        for w, h in ((65535, 65535), (0, 0), (1, 1)):
            yield f"screen {w}x{h}", data[:6] + struct.pack("<HH", w, h) + data[10:]
    elif fmt == "WEBP":
        riff = struct.pack("<I", 0xFFFFFFF0)
        yield "RIFF size 4 GB", data[:4] + riff + data[8:]
        chunk = struct.pack("<I", 0x7FFFFFFF)
        yield "chunk size 2 GB", data[:16] + chunk + data[20:]
    elif fmt == "MP4":
        tkhd = _find(data, b"tkhd")
        for w, h in ((65535, 65535), (0, 0)):       # 16.16 fixed point width and height
            fixed = struct.pack(">II", w << 16, h << 16)
            yield f"tkhd {w}x{h}", data[:tkhd + 80] + fixed + data[tkhd + 88:]
        avc1 = _find(data, b"avc1")
        for w, h in ((8192, 8192), (0, 0), (1, 1)):
            yield f"avc1 {w}x{h}", data[:avc1 + 28] + struct.pack(">HH", w, h) + data[avc1 + 32:]
        moov = _find(data, b"moov") - 4
        yield "moov claims 4 GB", data[:moov] + struct.pack(">I", 0xFFFFFFF0) + data[moov + 4:]


def bit_flips(data: bytes, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    for _ in range(FLIPS_PER_FILE):
        mutated = bytearray(data)
        for _ in range(rng.choice((1, 3, 16))):
            position = rng.randrange(len(mutated))
            mutated[position] ^= 1 << rng.randrange(8)
        yield f"flips near {position}", bytes(mutated)


def mutations(fmt: str) -> Iterator[tuple[str, bytes]]:
    data = real_file(fmt)
    rng = random.Random(f"{SEED}-{fmt}")
    for cut in sorted(set(BOUNDARIES[fmt](data))):
        if 0 < cut < len(data):
            yield f"cut at {cut}", data[:cut]
    yield from lying_headers(fmt, data)
    yield from bit_flips(data, rng)


@pytest.fixture
def fuzz_client(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    """No worker, no rate limit: every mutated upload gets to the checks."""
    with TestClient(create_app(make_settings(run_worker=False,
                                             rate_limit_per_minute=0))) as client:
        yield client


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "MP4"])
def test_mutated_files_never_get_a_server_error(fuzz_client: TestClient, fmt: str) -> None:
    statuses: Counter[int] = Counter()
    fields = ("content",) if fmt == "MP4" else ("content", "style")
    for what, data in mutations(fmt):
        for field in fields:
            upload = (field, (f"fuzz.{fmt.lower()}", data, "application/octet-stream"))
            files = [upload, image_files()[1]] if field == "content" else \
                [image_files()[0], upload]
            before = (job_count(fuzz_client), all_files_under(fuzz_client.app.state.store.root))
            response = submit(fuzz_client, files, size=64)
            statuses[response.status_code] += 1
            assert response.status_code < 500, f"{fmt} {what} as {field}: {response.text}"
            if response.status_code >= 400:
                assert response.json()["detail"], f"{fmt} {what}: no reason given"
                after = (job_count(fuzz_client),
                         all_files_under(fuzz_client.app.state.store.root))
                assert after == before, f"{fmt} {what} as {field} was refused but left files"
    print(f"{fmt}: {sum(statuses.values())} uploads, statuses {dict(sorted(statuses.items()))}")
    assert sum(statuses.values()) >= 20 and any(code >= 400 for code in statuses)
