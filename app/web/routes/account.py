"""One's own account: the profile (display name, bio, avatar), the password, the export of
every result as a ZIP, deleting the account after a confirmation, and today's allowance.
JSON under ``/api/account`` and ``/api/me/allowance``; the page ``/account`` with plain
forms (and ``/account/delete``, which asks first)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from app.db.community import Account
from app.people.account_removal import delete_account, write_export
from app.people.accounts import change_password, name_key
from app.people.allowances import allowance_of
from app.people.collections import collections_of
from app.people.passwords import verify_password
from app.people.profiles import profile_of, remove_avatar, set_avatar, update_profile
from app.refusals import Refused
from app.settings import Settings
from app.storage import MediaStore
from app.web.community_schemas import (
    COMMUNITY_ERRORS,
    AllowanceOut,
    DeleteAccountIn,
    PasswordIn,
    ProfileIn,
    ProfileOut,
    allowance_out,
    profile_out,
)
from app.web.create.receive import save_raw
from app.web.deps import OwnerDep, SessionDep, SettingsDep, StoreDep
from app.web.errors import status_for
from app.web.middleware.owner import keep_private
from app.web.rendering import render
from app.web.signed_in import (
    AccountDep,
    MaybeAccountDep,
    account_row,
    community_limits,
    count_action,
    session_token_of,
    sign_in_redirect,
    signed_out_cookies,
)

router = APIRouter()
DELETE_WORDS = ("type your name exactly as it is, and your password, to delete the account "
                "and everything it made")


# ----------------------------------------------------------------------------- the work
def check_deletion(account: Account, password: str, confirm: str) -> None:
    """Deleting asks for the name typed again and the password (403 otherwise)."""
    if name_key(confirm) != account.username_key or \
            not verify_password(account.password_hash, password):
        raise Refused(DELETE_WORDS, 403)


def deleted(request: Request, session: Session, store: MediaStore, account: Account,
            response: Response) -> Response:
    """Delete the account and sign this browser out (a fresh anonymous id)."""
    delete_account(session, store, account)
    for cookie in signed_out_cookies(request.scope):
        response.headers.append("set-cookie", cookie)
    return keep_private(response)


def export_response(session: Session, store: MediaStore, account: Account) -> Response:
    """The ZIP of the account's results, its temporary file removed once sent."""
    path = write_export(session, store, account)
    response = FileResponse(path, media_type="application/zip",
                            headers={"Content-Disposition": 'attachment; filename='
                                     f'"dreamgen-{account.username}.zip"'},
                            background=BackgroundTask(path.unlink, missing_ok=True))
    return keep_private(response)


async def avatar_from(request: Request, session: Session, store: MediaStore,
                      settings: Settings, account: Account, file: UploadFile) -> None:
    """Stream the upload to a temporary file, then check and store it in turn with the
    other uploads (:class:`~app.web.services.check_queue.CheckQueue`)."""
    raw = store.temp_path_for(store.new_path("uploads", ".part"))
    try:
        await save_raw(file, raw, settings, "the picture")
        async with request.app.state.upload_checks.turn():
            await run_in_threadpool(set_avatar, session, store, settings, account, raw)
    finally:
        raw.unlink(missing_ok=True)


def my_profile(session: Session, account: Account) -> ProfileOut:
    return profile_out(profile_of(session, account), followed=False, is_me=True)


# ----------------------------------------------------------------------------- JSON
@router.get("/api/me/allowance", response_model=AllowanceOut, tags=["accounts"])
def api_allowance(response: Response, session: SessionDep, owner: OwnerDep) -> AllowanceOut:
    """Today's allowance of this browser, or of its signed-in account, in work units."""
    keep_private(response)
    return allowance_out(allowance_of(session, owner))


@router.patch("/api/account/profile", response_model=ProfileOut, tags=["accounts"],
              responses=COMMUNITY_ERRORS)
def api_profile(body: ProfileIn, request: Request, session: SessionDep,
                who: AccountDep) -> ProfileOut:
    """Change the display name (blank: the name) and the bio (plain text)."""
    count_action(community_limits(request).changes, who)
    account = account_row(session, who)
    update_profile(session, account, body.display_name, body.bio)
    return my_profile(session, account)


@router.put("/api/account/avatar", response_model=ProfileOut, tags=["accounts"],
            responses=COMMUNITY_ERRORS)
async def api_avatar(request: Request, session: SessionDep, store: StoreDep,
                     settings: SettingsDep, who: AccountDep,
                     file: Annotated[UploadFile, File(description="a picture")]) -> ProfileOut:
    """Upload an avatar (checked like any upload, cut to a square)."""
    count_action(community_limits(request).changes, who)
    account = await run_in_threadpool(account_row, session, who)
    await avatar_from(request, session, store, settings, account, file)
    return await run_in_threadpool(my_profile, session, account)


@router.delete("/api/account/avatar", response_model=ProfileOut, tags=["accounts"],
               responses=COMMUNITY_ERRORS)
def api_remove_avatar(session: SessionDep, store: StoreDep, who: AccountDep) -> ProfileOut:
    account = account_row(session, who)
    remove_avatar(session, store, account)
    return my_profile(session, account)


@router.post("/api/account/password", status_code=204, tags=["accounts"],
             responses=COMMUNITY_ERRORS)
def api_password(body: PasswordIn, request: Request, session: SessionDep,
                 who: AccountDep) -> Response:
    """Change the password (the current one is asked); every other sign-in ends."""
    count_action(community_limits(request).changes, who)
    change_password(session, account_row(session, who), body.current, body.new,
                    session_token_of(request))
    return Response(status_code=204)


@router.post("/api/account/delete", status_code=204, tags=["accounts"],
             responses=COMMUNITY_ERRORS)
def api_delete(body: DeleteAccountIn, request: Request, session: SessionDep, store: StoreDep,
               who: AccountDep) -> Response:
    """Delete the account with every result, comment, like, follow and collection it has,
    after the confirmation: ``confirm`` is its name typed again, ``password`` its password."""
    count_action(community_limits(request).changes, who)
    account = account_row(session, who)
    check_deletion(account, body.password, body.confirm)
    return deleted(request, session, store, account, Response(status_code=204))


@router.get("/api/account/export", tags=["accounts"], responses={
    200: {"content": {"application/zip": {}}, "description": "Every finished result "
          "(PNG, MP4) and settings.json"}, **COMMUNITY_ERRORS})
def api_export(session: SessionDep, store: StoreDep, who: AccountDep) -> Response:
    """A ZIP of every finished result of the account and a JSON of their settings."""
    return export_response(session, store, account_row(session, who))


# ----------------------------------------------------------------------------- pages
def account_page(request: Request, session: Session, account: Account,
                 status_code: int = 200, **context: Any) -> Response:
    response = render(request, "account.html", status_code=status_code, account=account,
                      profile=profile_of(session, account),
                      allowance=allowance_of(session, account.owner_id),
                      collections=collections_of(session, account, only_public=False),
                      notice=request.query_params.get("notice"), **context)
    return keep_private(response)


@router.get("/account", response_class=HTMLResponse, include_in_schema=False)
def account_view(request: Request, session: SessionDep, who: MaybeAccountDep) -> Response:
    if who is None:
        return sign_in_redirect(request)
    return account_page(request, session, account_row(session, who))


def form_action(request: Request, session: Session, who: Any, action: Any,
                notice: str) -> Response:
    """Run a form's ``action(account)``: back to the page with ``notice``, or the page
    with the refusal."""
    if who is None:
        return sign_in_redirect(request)
    account = account_row(session, who)
    try:
        count_action(community_limits(request).changes, who)
        action(account)
    except Refused as exc:
        return account_page(request, session, account, status_for(exc), error=str(exc))
    return RedirectResponse(f"/account?notice={notice}", status_code=303)


@router.post("/account/profile", include_in_schema=False)
def profile_form(request: Request, session: SessionDep, who: MaybeAccountDep,
                 display_name: Annotated[str, Form(max_length=600)] = "",
                 bio: Annotated[str, Form(max_length=5000)] = "") -> Response:
    return form_action(request, session, who,
                       lambda a: update_profile(session, a, display_name, bio), "profile-saved")


@router.post("/account/password", include_in_schema=False)
def password_form(request: Request, session: SessionDep, who: MaybeAccountDep,
                  current: Annotated[str, Form(max_length=400)] = "",
                  new: Annotated[str, Form(max_length=400)] = "") -> Response:
    token = session_token_of(request)
    return form_action(request, session, who,
                       lambda a: change_password(session, a, current, new, token),
                       "password-changed")


@router.post("/account/avatar/remove", include_in_schema=False)
def remove_avatar_form(request: Request, session: SessionDep, store: StoreDep,
                       who: MaybeAccountDep) -> Response:
    return form_action(request, session, who, lambda a: remove_avatar(session, store, a),
                       "avatar-removed")


@router.post("/account/avatar", include_in_schema=False)
async def avatar_form(request: Request, session: SessionDep, store: StoreDep,
                      settings: SettingsDep, who: MaybeAccountDep,
                      file: Annotated[UploadFile | str | None, File()] = None) -> Response:
    if who is None:
        return sign_in_redirect(request)
    account = await run_in_threadpool(account_row, session, who)
    try:
        # a file input left empty arrives as "" (and a part as Starlette's own UploadFile)
        if file is None or isinstance(file, str) or not (file.filename or file.size):
            raise Refused("choose a picture first")
        count_action(community_limits(request).changes, who)
        await avatar_from(request, session, store, settings, account, file)
    except Refused as exc:
        return await run_in_threadpool(account_page, request, session, account,
                                       status_for(exc), error=str(exc))
    return RedirectResponse("/account?notice=avatar-saved", status_code=303)


@router.get("/account/export", include_in_schema=False)
def export_download(request: Request, session: SessionDep, store: StoreDep,
                    who: MaybeAccountDep) -> Response:
    if who is None:
        return sign_in_redirect(request)
    return export_response(session, store, account_row(session, who))


@router.get("/account/delete", response_class=HTMLResponse, include_in_schema=False)
def delete_page(request: Request, session: SessionDep, who: MaybeAccountDep) -> Response:
    if who is None:
        return sign_in_redirect(request)
    account = account_row(session, who)
    return keep_private(render(request, "account_delete.html", account=account,
                               profile=profile_of(session, account)))


@router.post("/account/delete", include_in_schema=False)
def delete_form(request: Request, session: SessionDep, store: StoreDep, who: MaybeAccountDep,
                password: Annotated[str, Form(max_length=400)] = "",
                confirm: Annotated[str, Form(max_length=100)] = "") -> Response:
    if who is None:
        return sign_in_redirect(request)
    account = account_row(session, who)
    try:
        count_action(community_limits(request).changes, who)
        check_deletion(account, password, confirm)
    except Refused as exc:
        return keep_private(render(request, "account_delete.html", status_code=status_for(exc),
                                   account=account, profile=profile_of(session, account),
                                   error=str(exc)))
    return deleted(request, session, store, account,
                   RedirectResponse("/?notice=account-deleted", status_code=303))
