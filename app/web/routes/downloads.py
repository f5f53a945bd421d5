"""Downloads: the result as an attachment with a readable name — for its owner named after
what went in, ``dreamgen-<content>-<style>-<id>.png``; for others after its title, never a
file's name (:func:`app.people.titles.download_name`). The media route keeps serving the same
file inline, for the pages."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse

from app.db.models import JobState
from app.people.titles import download_name
from app.web.access import find_job, viewer_is_admin
from app.web.deps import OwnerDep, SessionDep, StoreDep
from app.web.routes.media import CONTENT_TYPES

# A browser's route (errors are pages), so not in the API's OpenAPI document.
router = APIRouter(include_in_schema=False)


@router.get("/jobs/{job_id}/download", response_class=FileResponse)
def download_result(job_id: str, request: Request, session: SessionDep, store: StoreDep,
                    owner: OwnerDep) -> FileResponse:
    """The finished result with ``Content-Disposition: attachment`` and a readable name."""
    job = find_job(session, job_id)
    # a result the admin hid: its owner's download is refused too (hidden everywhere)
    if job.state != JobState.SUCCEEDED or not store.exists(job.result_path) or \
            (job.hidden and not viewer_is_admin(request)):
        raise HTTPException(404, "this job has no result to download")
    path = store.path(job.result_path or "")
    name = download_name(job, owner)
    return FileResponse(path, media_type=CONTENT_TYPES.get(path.suffix.lower(),
                                                           "application/octet-stream"),
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "X-Content-Type-Options": "nosniff",
                                 "Cache-Control": "private, max-age=3600",
                                 "Vary": "Cookie",          # the name is the visitor's
                                 "Content-Security-Policy": "default-src 'none'"})
