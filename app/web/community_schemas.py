"""The JSON API's models for the community (accounts, profiles, likes, comments, reports,
collections, allowances), so OpenAPI says exactly what goes in and comes back; and the
functions that turn the domain's rows into them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.db.community import Collection
from app.people.allowances import Allowance
from app.people.profiles import Profile
from app.people.social import CommentView
from app.web.schemas import ErrorOut, GalleryOut

COMMUNITY_ERRORS = {code: {"model": ErrorOut} for code in (401, 403, 404, 409, 422, 429)}


class AuthIn(BaseModel):
    """A name and a password (``invite``: the token of an invite link, needed to sign up
    while sign-up is by invitation)."""

    username: str = Field(max_length=100)
    password: str = Field(max_length=400)
    invite: str | None = Field(None, max_length=200)


class AllowanceOut(BaseModel):
    """Today's allowance in work units (``daily`` None: no limit); it refills at
    ``refills_at`` (midnight UTC)."""

    daily: float | None
    spent: float
    left: float | None
    refills_at: datetime


class AccountOut(BaseModel):
    """The signed-in account (``carried_over``: this browser's jobs that became the
    account's on this sign-in or sign-up)."""

    username: str
    display_name: str
    bio: str
    avatar: str | None
    profile: str
    allowance: AllowanceOut
    carried_over: int = 0


class PasswordIn(BaseModel):
    current: str = Field(max_length=400)
    new: str = Field(max_length=400)


class ResetIn(BaseModel):
    """A password link's token and the new password."""

    token: str = Field(max_length=200)
    new: str = Field(max_length=400)


class DeleteAccountIn(BaseModel):
    """Deleting an account asks for its password and its name typed again."""

    password: str = Field(max_length=400)
    confirm: str = Field(max_length=100)


class ProfileIn(BaseModel):
    """What to change of one's profile (a field left out stays)."""

    display_name: str | None = Field(None, max_length=600)
    bio: str | None = Field(None, max_length=5000)


class ProfileOut(BaseModel):
    """A person's profile as anyone sees it (``followed``: by the visitor)."""

    username: str
    display_name: str
    bio: str
    avatar: str | None
    joined: datetime
    results: int
    likes_received: int
    followers: int
    following: int
    followed: bool
    is_me: bool
    page: str


class LikesOut(BaseModel):
    likes: int
    liked: bool


class CommentIn(BaseModel):
    text: str = Field(max_length=5000)


class CommentOut(BaseModel):
    """A comment (``can_delete``: the visitor may delete it)."""

    id: str
    text: str
    author: str
    author_name: str
    created_at: datetime
    can_delete: bool


class CommentsOut(BaseModel):
    page: int
    per_page: int
    total: int
    comments: list[CommentOut]


class ReportIn(BaseModel):
    reason: str = Field("", max_length=3000)


class ReportOut(BaseModel):
    """A report was received; the admin will look at it."""

    id: int


class CollectionIn(BaseModel):
    title: str = Field(max_length=800)
    visibility: Literal["public", "private"] = "private"


class CollectionPatch(BaseModel):
    title: str | None = Field(None, max_length=800)
    visibility: Literal["public", "private"] | None = None


class CollectionItemIn(BaseModel):
    """A result (its id) to put in a collection."""

    job: str = Field(max_length=64)


class CollectionOut(BaseModel):
    """A collection (``share``: its share link, for its owner only)."""

    id: str
    title: str
    visibility: Literal["public", "private"]
    owner: str
    count: int
    page: str
    share: str | None


class CollectionPageOut(BaseModel):
    collection: CollectionOut
    results: GalleryOut


class CostOut(BaseModel):
    """What a job with these settings costs in work units: ``per_frame`` for each frame it
    makes (a picture is one), ``units`` for ``frames`` frames; and whether today's
    allowance covers it."""

    engine: str
    per_frame: float
    frames: int
    units: float
    allowance: AllowanceOut
    enough: bool


def allowance_out(allowance: Allowance) -> AllowanceOut:
    return AllowanceOut(daily=allowance.daily, spent=round(allowance.spent, 2),
                        left=allowance.left, refills_at=allowance.refills_at)


def profile_out(profile: Profile, followed: bool, is_me: bool) -> ProfileOut:
    return ProfileOut(username=profile.username, display_name=profile.display_name,
                      bio=profile.bio, avatar=avatar_url(profile.username, profile.has_avatar),
                      joined=profile.joined, results=profile.results,
                      likes_received=profile.likes_received, followers=profile.followers,
                      following=profile.following, followed=followed, is_me=is_me,
                      page=f"/u/{profile.username}")


def avatar_url(username: str, has_avatar: bool) -> str | None:
    return f"/u/{username}/avatar" if has_avatar else None


def comment_out(view: CommentView, can_delete: bool) -> CommentOut:
    return CommentOut(id=view.id, text=view.text, author=view.author,
                      author_name=view.author_name, created_at=view.created_at,
                      can_delete=can_delete)


def collection_out(collection: Collection, owner: str, count: int,
                   is_owner: bool) -> CollectionOut:
    return CollectionOut(id=collection.public_id, title=collection.title,
                         visibility=collection.visibility,  # type: ignore[arg-type]
                         owner=owner, count=count, page=f"/collections/{collection.public_id}",
                         share=f"/c/{collection.share_token}" if is_owner else None)


class AdminReportIn(BaseModel):
    """What the admin does about a report."""

    action: Literal["hide", "delete", "dismiss"]


class AdminDisableIn(BaseModel):
    disabled: bool


class AdminAllowanceIn(BaseModel):
    """A daily allowance in work units; null: no limit (for an account: the studio's)."""

    units: float | None = Field(None, ge=0, le=1e9)


class StudioAllowancesIn(BaseModel):
    """The daily allowances of anonymous browsers and of accounts (null: no limit)."""

    anonymous: float | None = Field(None, ge=0, le=1e9)
    accounts: float | None = Field(None, ge=0, le=1e9)


class LinkOut(BaseModel):
    """A one-time link to hand over (shown once)."""

    link: str
