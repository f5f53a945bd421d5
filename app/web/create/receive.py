"""Receiving an uploaded file: streamed to a temporary file, never more than the byte limit
read, an empty file refused."""

from __future__ import annotations

from pathlib import Path

from fastapi import UploadFile

from app.refusals import Refused
from app.settings import Settings

CHUNK = 1024 * 1024


async def save_raw(upload: UploadFile, path: Path, settings: Settings, what: str,
                   limit_mb: int | None = None) -> None:
    """Stream ``upload`` into ``path``, reading no further than one chunk past the
    ``max_upload_mb`` limit (or ``limit_mb``: a batch's ZIP) (413) and refusing an empty
    file (422)."""
    limit_mb = limit_mb or settings.max_upload_mb
    limit = limit_mb * 1024 * 1024
    size = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise Refused(f"{what} is larger than the {limit_mb} MiB "
                              "limit", status_code=413)
            out.write(chunk)
    if size == 0:
        raise Refused(f"{what} is an empty file")

