"""Enhance and Go deeper on a finished picture (:mod:`app.web.create.derive`): a JSON
endpoint each (201 with the new job) and a form post each for the result page's buttons.
Only the picture's owner, or the studio's admin, may."""

from __future__ import annotations

from typing import Callable

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from app.db.models import Job
from app.engine.weights.store import WeightStore
from app.jobs.derived_inputs import DEEPER, ENHANCE
from app.settings import Settings
from app.storage import MediaStore
from app.web.access import find_job, viewer_is_admin
from app.web.create.derive import derive_job
from app.web.deps import OwnerDep, SessionDep, SettingsDep, StoreDep, WeightsDep
from app.web.limits import check_rate
from app.web.middleware.owner import private_response
from app.web.schemas import ERRORS, JobOut, job_out

router = APIRouter(tags=["api"], responses=ERRORS, dependencies=[Depends(private_response)])


def owned_or_admin(session: Session, job_id: str, owner: str, request: Request) -> Job:
    """The job ``job_id`` when this visitor made it or is the admin (403 otherwise)."""
    job = find_job(session, job_id)
    if job.owner_id != owner and not viewer_is_admin(request):
        raise HTTPException(403, "only the person who made this picture may make new "
                                 "versions of it")
    return job


def _derive(job_id: str, derivation: str, request: Request, session: Session,
            settings: Settings, store: MediaStore, weights: WeightStore, owner: str) -> Job:
    check_rate(request)
    source = owned_or_admin(session, job_id, owner, request)
    job = derive_job(session, store, settings, weights, source, derivation)
    request.app.state.wake_workers()
    return job


@router.post("/api/jobs/{job_id}/enhance", status_code=201, response_model=JobOut)
def post_enhance(job_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                 store: StoreDep, weights: WeightsDep, owner: OwnerDep) -> JobOut:
    """Queue a 2x version of a finished picture (up to the studio's Enhance limit): the
    same engine and settings at the larger size (owner or admin; 409 with the reason when
    it is a clip, not finished, or at the limit)."""
    job = _derive(job_id, ENHANCE, request, session, settings, store, weights, owner)
    return job_out(session, job, owner, viewer_is_admin(request))


@router.post("/api/jobs/{job_id}/deeper", status_code=201, response_model=JobOut)
def post_deeper(job_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                store: StoreDep, weights: WeightsDep, owner: OwnerDep) -> JobOut:
    """Dream again on a finished Deep Dream picture with the same settings, as a new
    version (owner or admin)."""
    job = _derive(job_id, DEEPER, request, session, settings, store, weights, owner)
    return job_out(session, job, owner, viewer_is_admin(request))


def form_route(derivation: str) -> Callable[..., Response]:
    """The result page's button for ``derivation``: to the new version's page."""
    def from_form(job_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                  store: StoreDep, weights: WeightsDep, owner: OwnerDep) -> Response:
        job = _derive(job_id, derivation, request, session, settings, store, weights, owner)
        return RedirectResponse(f"/jobs/{job.public_id}", status_code=303)
    return from_form


for _derivation in (ENHANCE, DEEPER):
    router.add_api_route(f"/jobs/{{job_id}}/{_derivation}", form_route(_derivation),
                         methods=["POST"], include_in_schema=False)
