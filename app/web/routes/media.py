"""Serving media files, only from the media folder, only with safe content types, and only
to whom :mod:`app.web.visibility` lets see them: ``/media/<path>`` for a job's content,
results, thumbnails, previews and partial clip and the library's styles;
``/jobs/{id}/styles/{n}`` for a job's own style images."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse

from app.jobs.queue import get_job
from app.storage import MediaPathError, MediaStore
from app.web.access import viewer_is_admin
from app.web.deps import OwnerDep, SessionDep, StoreDep
from app.web.visibility import Access, media_access, style_file_access

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
NO_SUCH_FILE = "no such file"


def stored_file(store: MediaStore, rel: str) -> Path:
    """The file ``rel`` of the media folder (404 for anything else)."""
    try:
        path = store.path(rel)
    except MediaPathError as exc:
        raise HTTPException(404, NO_SUCH_FILE) from exc
    if not path.is_file() or path.name.startswith(".") or path.suffix.lower() in NEVER_SERVED:
        raise HTTPException(404, NO_SUCH_FILE)
    return path


def file_response(path: Path, access: Access, public_cache: str) -> FileResponse:
    """``path`` inline, with its content type; a private one is never cached."""
    if access == "refused":      # a private original, a hidden or deleted job's file
        raise HTTPException(404, NO_SUCH_FILE)
    media_type = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
    private = {"Cache-Control": "private, no-store", "Vary": "Cookie"}
    return FileResponse(path, media_type=media_type,
                        headers={"X-Content-Type-Options": "nosniff",
                                 **({"Cache-Control": public_cache} if access == "public"
                                    else private),
                                 "Content-Security-Policy": "default-src 'none'"})


@router.get("/media/{rel:path}")
def media_file(rel: str, request: Request, store: StoreDep, session: SessionDep,
               owner: OwnerDep) -> FileResponse:
    path = stored_file(store, rel)
    cache = RESULT_CACHE if rel.startswith(("results/", "thumbs/")) else "no-cache"
    return file_response(path, media_access(session, rel, owner, viewer_is_admin(request)), cache)


@router.get("/jobs/{job_id}/styles/{position}")
def job_style_file(job_id: str, position: int, request: Request, store: StoreDep,
                   session: SessionDep, owner: OwnerDep) -> FileResponse:
    """A job's style image (or Deep Dream guide) number ``position``, from 0."""
    job = get_job(session, job_id)
    if job is None or not 0 <= position < len(job.style_paths):
        raise HTTPException(404, NO_SUCH_FILE)
    path = stored_file(store, job.style_paths[position])
    return file_response(path, style_file_access(session, job, position, owner,
                                                       viewer_is_admin(request)),
                         RESULT_CACHE)
