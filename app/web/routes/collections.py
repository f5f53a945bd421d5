"""Collections: ``/collections`` (mine, and a new one), ``/collections/<id>`` (a public
one, or mine), ``/c/<token>`` (its share link, private ones too), and the same in JSON
under ``/api/collections``. Only its owner changes a collection: anyone else gets 404 for a
private one (it is not there for them) and 403 for a public one, and nothing changes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.db.community import Account, Collection
from app.jobs.queue import get_job
from app.people.account_sessions import SignedIn
from app.people.collections import (
    add_item,
    collections_of,
    create_collection,
    delete_collection,
    find_collection,
    remove_item,
    rename_collection,
    shared_collection,
    shown_items,
)
from app.refusals import Refused
from app.web.community_schemas import (
    COMMUNITY_ERRORS,
    CollectionIn,
    CollectionItemIn,
    CollectionOut,
    CollectionPageOut,
    CollectionPatch,
    collection_out,
)
from app.web.deps import OwnerDep, SessionDep, SettingsDep
from app.web.middleware.owner import keep_private, vary_by_cookie
from app.web.rendering import base_url, render
from app.web.schemas import MAX_PAGE, PER_PAGE, GalleryOut, job_out
from app.web.signed_in import (
    AccountDep,
    MaybeAccountDep,
    account_row,
    community_limits,
    count_action,
    sign_in_redirect,
)

router = APIRouter()
NO_COLLECTION = "no such collection"
NOT_YOURS = "only the person who made this collection may change it"


def owner_of(session: Session, collection: Collection) -> Account:
    account = session.get(Account, collection.account_id)
    assert account is not None
    return account


def readable(session: Session, collection_id: str, who: SignedIn | None) -> Collection:
    """A collection this visitor may open by its id (404 for someone else's private one)."""
    collection = find_collection(session, collection_id)
    if collection is None or (collection.visibility != "public" and
                              (who is None or who.account_id != collection.account_id)):
        raise HTTPException(404, NO_COLLECTION)
    return collection


def mine(session: Session, collection_id: str, who: SignedIn) -> Collection:
    """A collection of the signed-in account's (404: not there for them; 403: another's
    public one)."""
    collection = readable(session, collection_id, who)
    if collection.account_id != who.account_id:
        raise HTTPException(403, NOT_YOURS)
    return collection


def out(session: Session, collection: Collection, who: SignedIn | None) -> CollectionOut:
    count = shown_items(session, collection, per_page=0)[1]
    is_owner = who is not None and who.account_id == collection.account_id
    return collection_out(collection, owner_of(session, collection).username, count, is_owner)


def page_out(session: Session, collection: Collection, who: SignedIn | None, owner: str,
             page: int) -> CollectionPageOut:
    jobs, total = shown_items(session, collection, page, PER_PAGE)
    results = GalleryOut(page=page, per_page=PER_PAGE, total=total,
                         pages=max(1, -(-total // PER_PAGE)),
                         jobs=[job_out(session, j, owner) for j in jobs])
    return CollectionPageOut(collection=out(session, collection, who), results=results)


def job_for(session: Session, job_id: str) -> Any:
    job = get_job(session, job_id)
    if job is None or job.deleted_at is not None:
        raise HTTPException(404, "no such job")
    return job


# ----------------------------------------------------------------------------- JSON
@router.get("/api/collections", response_model=list[CollectionOut], tags=["collections"],
            responses=COMMUNITY_ERRORS)
def api_my_collections(response: Response, session: SessionDep,
                       who: AccountDep) -> list[CollectionOut]:
    """Your collections, newest first."""
    keep_private(response)
    account = account_row(session, who)
    return [collection_out(c, account.username, n, True)
            for c, n in collections_of(session, account, only_public=False)]


@router.post("/api/collections", status_code=201, response_model=CollectionOut,
             tags=["collections"], responses=COMMUNITY_ERRORS)
def api_new_collection(body: CollectionIn, request: Request, session: SessionDep,
                       who: AccountDep) -> CollectionOut:
    """A new collection (private unless you say public)."""
    count_action(community_limits(request).changes, who)
    collection = create_collection(session, account_row(session, who), body.title,
                                   body.visibility)
    return out(session, collection, who)


@router.get("/api/collections/shared/{token}", response_model=CollectionPageOut,
            tags=["collections"], responses=COMMUNITY_ERRORS)
def api_shared_collection(token: str, response: Response, session: SessionDep,
                          owner: OwnerDep, who: MaybeAccountDep,
                          page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1) -> CollectionPageOut:
    """A collection by its share link's token (private ones too)."""
    vary_by_cookie(response)
    collection = shared_collection(session, token)
    if collection is None:
        raise HTTPException(404, NO_COLLECTION)
    return page_out(session, collection, who, owner, page)


@router.get("/api/collections/{collection_id}", response_model=CollectionPageOut,
            tags=["collections"], responses=COMMUNITY_ERRORS)
def api_collection(collection_id: str, response: Response, session: SessionDep,
                   owner: OwnerDep, who: MaybeAccountDep,
                   page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1) -> CollectionPageOut:
    """A public collection, or one of yours, with one page of its results."""
    vary_by_cookie(response)
    return page_out(session, readable(session, collection_id, who), who, owner, page)


@router.patch("/api/collections/{collection_id}", response_model=CollectionOut,
              tags=["collections"], responses=COMMUNITY_ERRORS)
def api_edit_collection(collection_id: str, body: CollectionPatch, session: SessionDep,
                        who: AccountDep) -> CollectionOut:
    """Rename a collection of yours, or make it public or private."""
    collection = mine(session, collection_id, who)
    rename_collection(session, collection, body.title, body.visibility)
    return out(session, collection, who)


@router.delete("/api/collections/{collection_id}", status_code=204, tags=["collections"],
               responses=COMMUNITY_ERRORS)
def api_delete_collection(collection_id: str, session: SessionDep, who: AccountDep) -> Response:
    """Delete a collection of yours (its results stay where they are)."""
    delete_collection(session, mine(session, collection_id, who))
    return Response(status_code=204)


@router.post("/api/collections/{collection_id}/items", response_model=CollectionOut,
             tags=["collections"], responses=COMMUNITY_ERRORS)
def api_add_item(collection_id: str, body: CollectionItemIn, request: Request,
                 session: SessionDep, who: AccountDep) -> CollectionOut:
    """Put a result in a collection of yours: one of your own, or anyone's public one."""
    collection = mine(session, collection_id, who)
    count_action(community_limits(request).changes, who)
    add_item(session, collection, who.owner_id, job_for(session, body.job))
    return out(session, collection, who)


@router.delete("/api/collections/{collection_id}/items/{job_id}",
               response_model=CollectionOut, tags=["collections"], responses=COMMUNITY_ERRORS)
def api_remove_item(collection_id: str, job_id: str, session: SessionDep,
                    who: AccountDep) -> CollectionOut:
    """Take a result out of a collection of yours."""
    collection = mine(session, collection_id, who)
    remove_item(session, collection, job_for(session, job_id))
    return out(session, collection, who)


# ----------------------------------------------------------------------------- pages
def collection_page(request: Request, session: Session, collection: Collection,
                    who: SignedIn | None, owner: str, page: int, public_url: str) -> Response:
    page = min(max(1, page), MAX_PAGE)
    shown = page_out(session, collection, who, owner, page)
    response = render(request, "collection.html", shown=shown, page=page,
                      is_owner=who is not None and who.account_id == collection.account_id,
                      base=base_url(request, public_url),
                      private=collection.visibility != "public")
    response.headers["Referrer-Policy"] = "no-referrer"
    return vary_by_cookie(response)


@router.get("/collections", response_class=HTMLResponse, include_in_schema=False)
def my_collections_page(request: Request, session: SessionDep,
                        who: MaybeAccountDep) -> Response:
    if who is None:
        return sign_in_redirect(request)
    account = account_row(session, who)
    return keep_private(render(request, "collections.html", account=account,
                               collections=collections_of(session, account, False)))


@router.get("/collections/{collection_id}", response_class=HTMLResponse,
            include_in_schema=False)
def collection_view(collection_id: str, request: Request, session: SessionDep, owner: OwnerDep,
                    who: MaybeAccountDep, settings: SettingsDep, page: int = 1) -> Response:
    return collection_page(request, session, readable(session, collection_id, who), who,
                           owner, page, settings.public_url)


@router.get("/c/{token}", response_class=HTMLResponse, include_in_schema=False)
def shared_view(token: str, request: Request, session: SessionDep, owner: OwnerDep,
                who: MaybeAccountDep, settings: SettingsDep, page: int = 1) -> Response:
    collection = shared_collection(session, token)
    if collection is None:
        raise HTTPException(404, "this share link does not exist (or its collection was "
                                 "deleted)")
    return collection_page(request, session, collection, who, owner, page, settings.public_url)


@router.post("/collections", include_in_schema=False)
def new_collection_form(request: Request, session: SessionDep, who: MaybeAccountDep,
                        title: Annotated[str, Form(max_length=800)] = "",
                        visibility: Annotated[str, Form(max_length=16)] = "private") -> Response:
    if who is None:
        return sign_in_redirect(request)
    count_action(community_limits(request).changes, who)
    collection = create_collection(session, account_row(session, who), title, visibility)
    return RedirectResponse(f"/collections/{collection.public_id}", status_code=303)


@router.post("/collections/add", include_in_schema=False)
def add_form(request: Request, session: SessionDep, who: MaybeAccountDep,
             job: Annotated[str, Form(max_length=64)] = "",
             collection: Annotated[str, Form(max_length=64)] = "",
             new_title: Annotated[str, Form(max_length=800)] = "") -> Response:
    """The result page's "add to a collection": a chosen one, or a new one by its title."""
    if who is None:
        return sign_in_redirect(request)
    result = job_for(session, job)
    count_action(community_limits(request).changes, who)
    if new_title.strip():
        target = create_collection(session, account_row(session, who), new_title)
    elif collection:
        target = mine(session, collection, who)
    else:
        raise Refused("choose a collection, or type the title of a new one")
    add_item(session, target, who.owner_id, result)
    return RedirectResponse(f"/jobs/{result.public_id}?notice=collected#collect",
                            status_code=303)


@router.post("/collections/{collection_id}/edit", include_in_schema=False)
def edit_form(collection_id: str, request: Request, session: SessionDep, who: MaybeAccountDep,
              title: Annotated[str, Form(max_length=800)] = "",
              visibility: Annotated[str, Form(max_length=16)] = "") -> Response:
    if who is None:
        return sign_in_redirect(request)
    collection = mine(session, collection_id, who)
    rename_collection(session, collection, title or None, visibility or None)
    return RedirectResponse(f"/collections/{collection.public_id}", status_code=303)


@router.post("/collections/{collection_id}/remove", include_in_schema=False)
def remove_form(collection_id: str, request: Request, session: SessionDep, who: MaybeAccountDep,
                job: Annotated[str, Form(max_length=64)] = "") -> Response:
    if who is None:
        return sign_in_redirect(request)
    collection = mine(session, collection_id, who)
    remove_item(session, collection, job_for(session, job))
    return RedirectResponse(f"/collections/{collection.public_id}", status_code=303)


@router.post("/collections/{collection_id}/delete", include_in_schema=False)
def delete_form(collection_id: str, request: Request, session: SessionDep,
                who: MaybeAccountDep) -> Response:
    if who is None:
        return sign_in_redirect(request)
    delete_collection(session, mine(session, collection_id, who))
    return RedirectResponse("/collections", status_code=303)

