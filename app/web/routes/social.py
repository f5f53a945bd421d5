"""Likes, comments and reports on public results: JSON under ``/api/jobs/{id}/...`` and
``/api/comments/{id}``, and the result page's plain forms. Liking, commenting and reporting
need an account; reading does not. A comment's author, the result's owner and the admin may
delete it (403 for anyone else, nothing changed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from app.db.community import Comment
from app.db.models import Job
from app.people.reports import report_comment, report_job
from app.people.social import (
    add_comment,
    delete_comment,
    find_comment,
    like,
    like_count,
    liked_by,
    may_delete_comment,
    shown_comments,
    unlike,
)
from app.web.access import viewer_is_admin, visible_job
from app.web.community_schemas import (
    COMMUNITY_ERRORS,
    CommentIn,
    CommentOut,
    CommentsOut,
    LikesOut,
    ReportIn,
    ReportOut,
    comment_out,
)
from app.web.deps import OwnerDep, SessionDep
from app.web.middleware.owner import vary_by_cookie
from app.web.signed_in import (
    AccountDep,
    MaybeAccountDep,
    community_limits,
    count_action,
    sign_in_redirect,
)

router = APIRouter()
COMMENTS_PER_PAGE = 50
NO_COMMENT = "no such comment"
NOT_YOURS = "only its author, the result's owner and the studio's admin may delete a comment"


def comment_and_job(session: Session, comment_id: str, owner: str,
                    request: Request) -> tuple[Comment, Job]:
    """A comment and its result as this visitor may see them (404 / 410)."""
    comment = find_comment(session, comment_id)
    job = session.get(Job, comment.job_id) if comment else None
    if comment is None or job is None:
        raise HTTPException(404, NO_COMMENT)
    visible_job(session, job.public_id, owner, request)
    if comment.hidden and not viewer_is_admin(request):
        raise HTTPException(404, NO_COMMENT)
    return comment, job


def likes_out(session: Session, job: Job, account_id: int | None) -> LikesOut:
    return LikesOut(likes=like_count(session, job.id),
                    liked=liked_by(session, job.id, account_id))


def remove_comment(request: Request, session: Session, comment_id: str, owner: str,
                   account_id: int | None) -> Job:
    comment, job = comment_and_job(session, comment_id, owner, request)
    if not may_delete_comment(comment, job, account_id, owner, viewer_is_admin(request)):
        raise HTTPException(403, NOT_YOURS)
    delete_comment(session, comment)
    return job


# ----------------------------------------------------------------------------- JSON
@router.get("/api/jobs/{job_id}/likes", response_model=LikesOut, tags=["community"],
            responses=COMMUNITY_ERRORS)
def api_likes(job_id: str, request: Request, response: Response, session: SessionDep,
              owner: OwnerDep, who: MaybeAccountDep) -> LikesOut:
    """How many like this result, and whether you do."""
    vary_by_cookie(response)
    job = visible_job(session, job_id, owner, request)
    return likes_out(session, job, who.account_id if who else None)


@router.post("/api/jobs/{job_id}/likes", response_model=LikesOut, tags=["community"],
             responses=COMMUNITY_ERRORS)
def api_like(job_id: str, request: Request, session: SessionDep, owner: OwnerDep,
             who: AccountDep) -> LikesOut:
    """Like a public result (again: nothing changes)."""
    job = visible_job(session, job_id, owner, request)
    count_action(community_limits(request).likes, who)
    like(session, who.account_id, job)
    return likes_out(session, job, who.account_id)


@router.delete("/api/jobs/{job_id}/likes", response_model=LikesOut, tags=["community"],
               responses=COMMUNITY_ERRORS)
def api_unlike(job_id: str, request: Request, session: SessionDep, owner: OwnerDep,
               who: AccountDep) -> LikesOut:
    """Take your like back."""
    job = visible_job(session, job_id, owner, request)
    unlike(session, who.account_id, job)
    return likes_out(session, job, who.account_id)


@router.get("/api/jobs/{job_id}/comments", response_model=CommentsOut, tags=["community"],
            responses=COMMUNITY_ERRORS)
def api_comments(job_id: str, request: Request, response: Response, session: SessionDep,
                 owner: OwnerDep, who: MaybeAccountDep,
                 page: Annotated[int, Query(ge=1, le=1_000_000)] = 1) -> CommentsOut:
    """A result's comments, oldest first (plain text: escape it wherever you show it)."""
    vary_by_cookie(response)
    job = visible_job(session, job_id, owner, request)
    views, total = shown_comments(session, job.id, page, COMMENTS_PER_PAGE)
    account_id, is_admin = (who.account_id if who else None), viewer_is_admin(request)
    return CommentsOut(page=page, per_page=COMMENTS_PER_PAGE, total=total, comments=[
        comment_out(v, is_admin or job.owner_id == owner or v.author_id == account_id)
        for v in views])


@router.post("/api/jobs/{job_id}/comments", status_code=201, response_model=CommentOut,
             tags=["community"], responses=COMMUNITY_ERRORS)
def api_comment(job_id: str, body: CommentIn, request: Request, session: SessionDep,
                owner: OwnerDep, who: AccountDep) -> CommentOut:
    """Comment on a public result: plain text, at most 500 characters, six a minute."""
    job = visible_job(session, job_id, owner, request)
    count_action(community_limits(request).comments, who)
    return comment_out(add_comment(session, who.account_id, job, body.text), True)


@router.delete("/api/comments/{comment_id}", status_code=204, tags=["community"],
               responses=COMMUNITY_ERRORS)
def api_delete_comment(comment_id: str, request: Request, session: SessionDep,
                       owner: OwnerDep, who: MaybeAccountDep) -> Response:
    """Delete a comment (its author, the result's owner, the admin)."""
    remove_comment(request, session, comment_id, owner, who.account_id if who else None)
    return Response(status_code=204)


@router.post("/api/jobs/{job_id}/reports", status_code=201, response_model=ReportOut,
             tags=["community"], responses=COMMUNITY_ERRORS)
def api_report_job(job_id: str, body: ReportIn, request: Request, session: SessionDep,
                   owner: OwnerDep, who: AccountDep) -> ReportOut:
    """Report a public result to the studio's admin (``reason``: optional words)."""
    job = visible_job(session, job_id, owner, request)
    count_action(community_limits(request).reports, who)
    return ReportOut(id=report_job(session, who.account_id, job, body.reason).id)


@router.post("/api/comments/{comment_id}/reports", status_code=201, response_model=ReportOut,
             tags=["community"], responses=COMMUNITY_ERRORS)
def api_report_comment(comment_id: str, body: ReportIn, request: Request,
                       session: SessionDep, owner: OwnerDep, who: AccountDep) -> ReportOut:
    """Report a comment to the studio's admin."""
    comment, _ = comment_and_job(session, comment_id, owner, request)
    count_action(community_limits(request).reports, who)
    return ReportOut(id=report_comment(session, who.account_id, comment, body.reason).id)


# ----------------------------------------------------------------------------- forms
def back_to(job: Job, anchor: str, notice: str | None = None) -> Response:
    query = f"?notice={notice}" if notice else ""
    return RedirectResponse(f"/jobs/{job.public_id}{query}#{anchor}", status_code=303)


@router.post("/jobs/{job_id}/like", include_in_schema=False)
def like_form(job_id: str, request: Request, session: SessionDep, owner: OwnerDep,
              who: MaybeAccountDep, liked: Annotated[bool, Form()] = True) -> Response:
    if who is None:
        return sign_in_redirect(request)
    job = visible_job(session, job_id, owner, request)
    if liked:
        count_action(community_limits(request).likes, who)
        like(session, who.account_id, job)
    else:
        unlike(session, who.account_id, job)
    return back_to(job, "likes")


@router.post("/jobs/{job_id}/comments", include_in_schema=False)
def comment_form(job_id: str, request: Request, session: SessionDep, owner: OwnerDep,
                 who: MaybeAccountDep,
                 text: Annotated[str, Form(max_length=5000)] = "") -> Response:
    if who is None:
        return sign_in_redirect(request)
    job = visible_job(session, job_id, owner, request)
    count_action(community_limits(request).comments, who)
    add_comment(session, who.account_id, job, text)
    return back_to(job, "comments")


@router.post("/comments/{comment_id}/delete", include_in_schema=False)
def delete_comment_form(comment_id: str, request: Request, session: SessionDep,
                        owner: OwnerDep, who: MaybeAccountDep) -> Response:
    job = remove_comment(request, session, comment_id, owner, who.account_id if who else None)
    return back_to(job, "comments")


@router.post("/jobs/{job_id}/report", include_in_schema=False)
def report_job_form(job_id: str, request: Request, session: SessionDep, owner: OwnerDep,
                    who: MaybeAccountDep,
                    reason: Annotated[str, Form(max_length=3000)] = "") -> Response:
    if who is None:
        return sign_in_redirect(request)
    job = visible_job(session, job_id, owner, request)
    count_action(community_limits(request).reports, who)
    report_job(session, who.account_id, job, reason)
    return back_to(job, "community", "reported")


@router.post("/comments/{comment_id}/report", include_in_schema=False)
def report_comment_form(comment_id: str, request: Request, session: SessionDep,
                        owner: OwnerDep, who: MaybeAccountDep,
                        reason: Annotated[str, Form(max_length=3000)] = "") -> Response:
    if who is None:
        return sign_in_redirect(request)
    comment, job = comment_and_job(session, comment_id, owner, request)
    count_action(community_limits(request).reports, who)
    report_comment(session, who.account_id, comment, reason)
    return back_to(job, "comments", "reported")
