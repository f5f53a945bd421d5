"""What the result page shows of a picture's versions and new-version buttons: its
family's Enhance and Go deeper versions side by side (:mod:`app.jobs.family`), whether it
was made under a brushed mask, and what Enhance would make of it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.db.models import Job, JobState
from app.engine.enlarge import enhanced_side
from app.engine.registry import BY_NAME
from app.jobs.family import versions_of
from app.settings import Settings
from app.web.schemas import file_links

LABELS = {None: "First", "enhance": "Enhanced", "deeper": "Deeper"}


def version_cards(session: Session, job: Job, owner: str, is_admin: bool
                  ) -> list[dict[str, Any]]:
    """The finished versions this visitor may see (their own or the admin: all; others:
    the public ones), oldest first; empty when ``job`` has no other version."""
    family = [v for v in versions_of(session, job) if v.state == JobState.SUCCEEDED
              and not v.hidden and (is_admin or v.owner_id == owner
                                    or v.visibility == "public" or v.id == job.id)]
    if len(family) < 2:
        return []
    return [{"id": v.public_id, "label": LABELS.get(v.derivation, "Version"),
             "size": f"{v.width}×{v.height}", "current": v.id == job.id,
             "thumb": file_links(v, v.owner_id == owner).thumb} for v in family]


def family_context(session: Session, job: Job, owner: str, is_admin: bool,
                   settings: Settings) -> dict[str, Any]:
    """The result page's context for versions, the mask note and the new-version buttons."""
    spec = BY_NAME.get(job.engine)
    may = (job.owner_id == owner or is_admin) and job.kind == "image" and not job.hidden
    side = enhanced_side(job.width or 0, job.height or 0, settings.max_enhance_side)
    return {"versions": version_cards(session, job, owner, is_admin),
            "masked": job.mask_path is not None,
            "enhance_side": side if may else None,
            "enhance_limit": settings.max_enhance_side if may and side is None else None,
            "can_go_deeper": may and spec is not None and spec.mode == "dream"}
