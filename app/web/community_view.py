"""What the result page shows of the community (``templates/_community.html``): the likes
and whether the visitor likes it, the comments with who may delete each, and the signed-in
visitor's collections for "add to a collection"."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from app.db.models import Job
from app.people.collections import collections_holding, collections_of, may_collect
from app.people.social import is_public_result, like_count, liked_by, shown_comments
from app.web.signed_in import account_row, current_account

SHOWN_COMMENTS = 200


def result_community(request: Request, session: Session, job: Job, owner: str,
                     is_admin: bool) -> dict[str, Any]:
    """The template's ``community``: likes, comments, collections for this visitor."""
    who = current_account(request)
    account_id = who.account_id if who else None
    public = is_public_result(job)
    views, total = shown_comments(session, job.id, 1, SHOWN_COMMENTS) if public else ([], 0)
    comments = [{"view": v, "can_delete": is_admin or job.owner_id == owner
                 or v.author_id == account_id} for v in views]
    context: dict[str, Any] = {"public": public, "signed_in": who,
                               "likes": like_count(session, job.id),
                               "liked": liked_by(session, job.id, account_id),
                               "comments": comments, "comment_total": total,
                               "next": request.url.path, "collections": [], "holding": set()}
    if who is not None and may_collect(job, owner):
        context["collections"] = collections_of(session, account_row(session, who), False)
        context["holding"] = collections_holding(session, who.account_id, job.id)
    return context
