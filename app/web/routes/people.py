"""Profiles: ``/u/<name>`` (avatar, bio, public results, likes received, followers, public
collections; follow and unfollow) and the same in JSON under ``/api/users/<name>``. A
disabled account's profile answers 404 to everyone but the admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.db.community import Account
from app.people.accounts import find_account
from app.people.collections import collections_of
from app.people.feeds import FeedPage, as_of_millis, as_of_moment, newest
from app.people.follows import follow, follows, unfollow
from app.people.profiles import profile_of
from app.refusals import Refused
from app.storage import MediaStore
from app.web.access import viewer_is_admin
from app.web.community_schemas import (
    COMMUNITY_ERRORS,
    CollectionOut,
    ProfileOut,
    collection_out,
    profile_out,
)
from app.web.deps import OwnerDep, SessionDep, StoreDep
from app.web.errors import status_for
from app.web.middleware.owner import vary_by_cookie
from app.web.rendering import render
from app.web.schemas import MAX_PAGE, PER_PAGE, GalleryOut, job_out
from app.web.signed_in import (
    AccountDep,
    MaybeAccountDep,
    community_limits,
    count_action,
    sign_in_redirect,
)

router = APIRouter()
NO_SUCH_PERSON = "there is nobody of that name here"


def person(session: Session, name: str, request: Request) -> Account:
    """The account ``name`` for this visitor (404: none, or disabled and not the admin)."""
    account = find_account(session, name)
    if account is None or (account.disabled_at is not None and not viewer_is_admin(request)):
        raise HTTPException(404, NO_SUCH_PERSON)
    return account


def profile_json(session: Session, account: Account, viewer: int | None) -> ProfileOut:
    return profile_out(profile_of(session, account), follows(session, viewer, account.id),
                       is_me=viewer == account.id)


def results_page(session: Session, account: Account, page: int, as_of: int | None,
                 owner: str) -> tuple[FeedPage, GalleryOut]:
    """One page of the account's public results, newest first, as of a moment."""
    feed = newest(session, page, PER_PAGE, as_of_moment(as_of), [account.owner_id])
    return feed, GalleryOut(page=page, per_page=PER_PAGE, total=feed.total,
                            pages=max(1, -(-feed.total // PER_PAGE)),
                            jobs=[job_out(session, j, owner) for j in feed.jobs],
                            tab="profile", as_of=as_of_millis(feed.as_of))


def set_following(session: Session, who: int, account: Account,
                  on: bool) -> None:
    if on:
        follow(session, who, account)
    else:
        unfollow(session, who, account)


# ----------------------------------------------------------------------------- JSON
@router.get("/api/users/{name}", response_model=ProfileOut, tags=["people"],
            responses=COMMUNITY_ERRORS)
def api_user(name: str, request: Request, response: Response, session: SessionDep,
             who: MaybeAccountDep) -> ProfileOut:
    """A person's profile: name, display name, bio, avatar, counts of public results,
    likes received, followers and following; ``followed``: whether you follow them."""
    vary_by_cookie(response)
    return profile_json(session, person(session, name, request), who.account_id if who else None)


@router.get("/api/users/{name}/results", response_model=GalleryOut, tags=["people"],
            responses=COMMUNITY_ERRORS)
def api_user_results(name: str, request: Request, session: SessionDep, owner: OwnerDep,
                     page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
                     as_of: Annotated[int | None, Query(ge=0)] = None) -> GalleryOut:
    """A person's public results, newest first (``as_of`` from page 1 keeps the order)."""
    account = person(session, name, request)
    return results_page(session, account, page, as_of, owner)[1]


@router.get("/api/users/{name}/collections", response_model=list[CollectionOut],
            tags=["people"], responses=COMMUNITY_ERRORS)
def api_user_collections(name: str, request: Request, response: Response,
                         session: SessionDep, who: MaybeAccountDep) -> list[CollectionOut]:
    """A person's public collections (yours: all of them)."""
    vary_by_cookie(response)
    account = person(session, name, request)
    mine = who is not None and who.account_id == account.id
    return [collection_out(c, account.username, n, mine)
            for c, n in collections_of(session, account, only_public=not mine)]


@router.post("/api/users/{name}/follow", response_model=ProfileOut, tags=["people"],
             responses=COMMUNITY_ERRORS)
def api_follow(name: str, request: Request, session: SessionDep, who: AccountDep) -> ProfileOut:
    """Follow this person: their new public results appear in your Following feed."""
    account = person(session, name, request)
    count_action(community_limits(request).follows, who)
    set_following(session, who.account_id, account, True)
    return profile_json(session, account, who.account_id)


@router.delete("/api/users/{name}/follow", response_model=ProfileOut, tags=["people"],
               responses=COMMUNITY_ERRORS)
def api_unfollow(name: str, request: Request, session: SessionDep,
                 who: AccountDep) -> ProfileOut:
    """Stop following this person."""
    account = person(session, name, request)
    set_following(session, who.account_id, account, False)
    return profile_json(session, account, who.account_id)


# ----------------------------------------------------------------------------- pages
@router.get("/u/{name}", response_class=HTMLResponse, include_in_schema=False)
def profile_page(name: str, request: Request, session: SessionDep, owner: OwnerDep,
                 who: MaybeAccountDep, page: int = 1, as_of: int | None = None,
                 error: str | None = None, status_code: int = 200) -> Response:
    account = person(session, name, request)
    page = min(max(1, page), MAX_PAGE)
    viewer = who.account_id if who else None
    mine = viewer == account.id
    feed, results = results_page(session, account, page, as_of, owner)
    response = render(request, "profile.html", status_code=status_code,
                      profile=profile_json(session, account, viewer), account=account,
                      results=results, as_of=as_of_millis(feed.as_of), signed_in=who,
                      collections=[collection_out(c, account.username, n, mine) for c, n in
                                   collections_of(session, account, only_public=not mine)],
                      error=error)
    return vary_by_cookie(response)


@router.post("/u/{name}/follow", include_in_schema=False)
def follow_form(name: str, request: Request, session: SessionDep, owner: OwnerDep,
                who: MaybeAccountDep,
                follow: Annotated[bool, Form()] = True) -> Response:
    if who is None:
        return sign_in_redirect(request)
    account = person(session, name, request)
    try:
        if follow:
            count_action(community_limits(request).follows, who)
        set_following(session, who.account_id, account, follow)
    except Refused as exc:
        return profile_page(name, request, session, owner, who, error=str(exc),
                            status_code=status_for(exc))
    return RedirectResponse(f"/u/{account.username}#follow", status_code=303)


@router.get("/u/{name}/avatar", include_in_schema=False)
def avatar(name: str, request: Request, session: SessionDep, store: StoreDep) -> Response:
    """The avatar (a PNG the studio made from the checked upload)."""
    account = person(session, name, request)
    if not account.avatar_path or not store.exists(account.avatar_path):
        raise HTTPException(404, "this person has no picture")
    return avatar_file(store, account.avatar_path)


def avatar_file(store: MediaStore, rel: str) -> Response:
    return FileResponse(store.path(rel), media_type="image/png",
                        headers={"X-Content-Type-Options": "nosniff",
                                 "Cache-Control": "public, max-age=300",
                                 "Content-Security-Policy": "default-src 'none'"})
