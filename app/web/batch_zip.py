"""A batch's results as one ZIP, streamed: each file is written into the archive as it is
read (stored, not compressed: JPEG and PNG do not shrink), so a hundred results never sit in
memory nor in a temporary file. Names come from the uploads (``cat.jpg`` gives ``cat.png``
when the result is a PNG), made safe and unique (``cat (2).png``)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path, PurePosixPath
from typing import Iterator

CHUNK = 1024 * 1024
UNSAFE = '/\\:*?"<>|'


class _Pipe(io.RawIOBase):
    """A write-only stream whose bytes are taken out as they come (not seekable: zipfile
    then writes each member's sizes after its data)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:   # type: ignore[override]
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def result_names(uploads: list[str], suffixes: list[str]) -> list[str]:
    """A file name for each result: the upload's name (its folders and unsafe characters
    dropped) with the result's suffix, numbered where two would be the same."""
    names: list[str] = []
    taken: set[str] = set()
    for upload, suffix in zip(uploads, suffixes):
        base = PurePosixPath(upload.replace("\\", "/")).name
        stem = "".join("_" if c in UNSAFE or not c.isprintable() else c
                       for c in PurePosixPath(base).stem).strip(" .") or "photo"
        name, count = f"{stem}{suffix}", 1
        while name.lower() in taken:
            count += 1
            name = f"{stem} ({count}){suffix}"
        taken.add(name.lower())
        names.append(name)
    return names


def stream_zip(files: list[tuple[str, Path]]) -> Iterator[bytes]:
    """The ZIP of ``files`` (name in the archive, file on disk) in pieces of about
    ``CHUNK``; a file gone meanwhile (deleted) is left out."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", zipfile.ZIP_STORED) as zipped:
        for name, path in files:
            try:
                source = open(path, "rb")
            except OSError:
                continue
            with source, zipped.open(name, "w") as member:
                while chunk := source.read(CHUNK):
                    member.write(chunk)
                    yield pipe.take()
            yield pipe.take()
    yield pipe.take()
