"""What a job will cost before the click: ``POST /api/jobs/cost`` takes the create form's
fields (no files needed) and answers in work units with what is left of today's allowance
(:mod:`app.people.allowances`). The create page asks it as its settings change
(``static/allowance.js``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.people.allowances import allowance_of, job_cost
from app.web.community_schemas import COMMUNITY_ERRORS, CostOut, allowance_out
from app.web.create.fast_model import engine_for
from app.web.create.form import FormDep
from app.web.create.submit import installed_engine
from app.web.deps import OwnerDep, SessionDep, SettingsDep, WeightsDep
from app.web.middleware.owner import keep_private

router = APIRouter()


@router.post("/api/jobs/cost", response_model=CostOut, tags=["accounts"],
             responses=COMMUNITY_ERRORS)
def api_cost(form: FormDep, response: Response, session: SessionDep, settings: SettingsDep,
             weights: WeightsDep, owner: OwnerDep,
             frames: Annotated[int, Query(ge=1, le=1_000_000, description="a clip's frames "
                                          "(the page estimates them from its length)")] = 1
             ) -> CostOut:
    """What a job with these settings (the create form's fields, files left out) costs,
    and what is left of today's allowance."""
    keep_private(response)
    options = engine_for(form.options(settings, weights), form.model_id)
    spec = installed_engine(options.engine, weights)
    per_frame = job_cost(spec.name, options.stored())
    units = job_cost(spec.name, options.stored(), frames)
    allowance = allowance_of(session, owner)
    return CostOut(engine=spec.name, per_frame=per_frame, frames=frames, units=units,
                   allowance=allowance_out(allowance), enough=allowance.covers(units))
