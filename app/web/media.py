"""Serving media files, only from the media folder and only with safe content types."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse

from app.storage import MediaPathError
from app.web.deps import OwnerDep, SessionDep, StoreDep
from app.web.visibility import media_access

router = APIRouter(include_in_schema=False)

# Everything we store is one of these; anything else goes out as a download.
CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                 ".webp": "image/webp", ".gif": "image/gif", ".mp4": "video/mp4",
                 ".mkv": "video/x-matroska", ".avi": "video/x-msvideo"}
# Strength-preview states (content features) are read by the server only.
NEVER_SERVED = (".pt",)
# A result's bytes never change, but who may see it does (the admin hides it, its owner
# deletes it): caches keep it for minutes, not a year, then ask again (a cheap 304).
RESULT_CACHE = "public, max-age=300, must-revalidate"


@router.get("/media/{rel:path}")
def media_file(rel: str, request: Request, store: StoreDep, session: SessionDep,
               owner: OwnerDep) -> FileResponse:
    try:
        path = store.path(rel)
    except MediaPathError as exc:
        raise HTTPException(404, "no such file") from exc
    if not path.is_file() or path.name.startswith(".") or path.suffix.lower() in NEVER_SERVED:
        raise HTTPException(404, "no such file")
    # a private original, a hidden or a deleted result: as if it did not exist
    access = media_access(session, rel, owner, request)
    if access == "refused":
        raise HTTPException(404, "no such file")
    media_type = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
    cache = RESULT_CACHE if rel.startswith(("results/", "thumbs/")) else "no-cache"
    return FileResponse(path, media_type=media_type,
                        headers={"X-Content-Type-Options": "nosniff",
                                 "Cache-Control": cache if access == "public"
                                 else "private, no-store",
                                 "Content-Security-Policy": "default-src 'none'"})
