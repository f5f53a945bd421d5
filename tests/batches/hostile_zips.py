"""The hostile ZIP corpus: each archive is built here, byte for byte, by the tests."""

from __future__ import annotations

import io
import struct
import zipfile

from tests.batches.conftest import zip_of
from tests.support.images import png_bytes

MIB = 2**20


def _zip(write) -> bytes:  # type: ignore[no-untyped-def]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        write(zipped)
    return buffer.getvalue()


def ratio_bomb() -> bytes:
    """One member of 200 MiB of zeros, packed to about 200 KiB (a ratio near 1000)."""
    def write(zipped: zipfile.ZipFile) -> None:
        with zipped.open("photo.png", "w", force_zip64=True) as member:
            zero = bytes(MIB)
            for _ in range(200):
                member.write(zero)
    return _zip(write)


def lying_sizes() -> bytes:
    """A 5 MiB member whose headers say it unpacks to 1000 bytes."""
    data = bytearray(_zip(lambda z: z.writestr("photo.png", bytes(5 * MIB))))
    local = data.index(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, 1000)
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 1000)
    return bytes(data)


def _write_link(zipped: zipfile.ZipFile, name: str) -> None:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o120777 << 16
    info.create_system = 3
    zipped.writestr(info, "/etc/passwd")


def symlink() -> bytes:
    """A member that is a symbolic link (Unix mode 0o120777) to /etc/passwd."""
    return _zip(lambda zipped: _write_link(zipped, "photo.png"))


def mixed() -> bytes:
    """One good photo beside a ``../`` name, a nested ZIP, a link, and what archivers add
    (a folder, a ``__MACOSX`` resource fork)."""
    def write(zipped: zipfile.ZipFile) -> None:
        zipped.writestr("good.png", png_bytes(seed=5))
        zipped.writestr("../evil.png", png_bytes())
        zipped.writestr("nested.zip", zip_of({"a.png": png_bytes()}))
        zipped.writestr("__MACOSX/._good.png", b"resource fork")
        zipped.writestr("folder/", b"")
        _write_link(zipped, "link.png")
    return _zip(write)


def many_tiny(count: int = 10_000) -> bytes:
    """``count`` members of one byte each."""
    def write(zipped: zipfile.ZipFile) -> None:
        for i in range(count):
            zipped.writestr(f"p{i}.png", b"x")
    return _zip(write)


def nested() -> bytes:
    """A ZIP of photos inside the ZIP, and one disguised as a PNG."""
    inner = zip_of({"a.png": png_bytes(seed=1)})
    return zip_of({"inner.zip": inner, "sneaky.png": inner})


CORPUS = {
    # name: (archive, HTTP status, words the reason must hold)
    "ratio bomb": (ratio_bomb, 413, "ZIP bomb"),
    "lying sizes": (lying_sizes, 422, "damaged in the ZIP"),
    "dot-dot name": (lambda: zip_of({"../../evil.png": png_bytes()}), 422, "outside the ZIP"),
    "backslash name": (lambda: zip_of({"..\\..\\evil.png": png_bytes()}), 422,
                       "outside the ZIP"),
    "absolute name": (lambda: zip_of({"/tmp/evil.png": png_bytes()}), 422, "outside the ZIP"),
    "drive letter": (lambda: zip_of({"C:/evil.png": png_bytes()}), 422, "outside the ZIP"),
    "symlink": (symlink, 422, "a link to another file"),
    "nested archive": (nested, 422, "an archive inside the ZIP"),
    "10,000 tiny members": (many_tiny, 413, "holds 10000 files"),
    "empty archive": (lambda: zip_of({}), 422, "holds no photos"),
    "not a zip": (lambda: b"PK\x03\x04 but nothing after", 422, "damaged or is not a ZIP"),
}
