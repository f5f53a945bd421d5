"""Collections: named albums of results an account keeps, its own or others' public ones.

A **public** collection is listed on its owner's profile and open to anyone at
``/collections/<id>``; a **private** one only to its owner, and to whoever has its share
link (``/c/<token>``, 192 random bits, like an unlisted result's). Whoever views it sees
only the results they may see anyway: public ones, and the owner's own unlisted ones (their
owner put them there); never one that was hidden or deleted. Only its owner changes it.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from app.db.base import utcnow
from app.db.community import Account, Collection, CollectionItem
from app.db.engine import begin_write
from app.db.models import Job, JobState
from app.people.social import plain_text
from app.refusals import Refused

MAX_TITLE = 80
MAX_COLLECTIONS = 200
MAX_ITEMS = 1000
Visibility = Literal["public", "private"]
VISIBILITIES = ("public", "private")


def check_visibility(visibility: str) -> str:
    if visibility not in VISIBILITIES:
        raise Refused("a collection is public or private")
    return visibility


def create_collection(session: Session, account: Account, title: str,
                      visibility: str = "private") -> Collection:
    title = plain_text(title.replace("\n", " "), MAX_TITLE, "the title")
    check_visibility(visibility)
    begin_write(session)
    count = session.scalar(select(func.count()).select_from(Collection)
                           .where(Collection.account_id == account.id)) or 0
    if count >= MAX_COLLECTIONS:
        session.rollback()
        raise Refused(f"you have {MAX_COLLECTIONS} collections, the most there may be; "
                      "delete one first", 409)
    collection = Collection(account_id=account.id, title=title, visibility=visibility,
                            created_at=utcnow())
    session.add(collection)
    session.commit()
    return collection


def find_collection(session: Session, public_id: str) -> Collection | None:
    return session.scalar(select(Collection).where(Collection.public_id == public_id))


def shared_collection(session: Session, token: str) -> Collection | None:
    if not token or len(token) > 64:
        return None
    return session.scalar(select(Collection).where(Collection.share_token == token))


def rename_collection(session: Session, collection: Collection, title: str | None,
                      visibility: str | None) -> None:
    begin_write(session)
    if title is not None:
        collection.title = plain_text(title.replace("\n", " "), MAX_TITLE, "the title")
    if visibility is not None:
        collection.visibility = check_visibility(visibility)
    session.commit()


def delete_collection(session: Session, collection: Collection) -> None:
    begin_write(session)
    session.execute(delete(Collection).where(Collection.id == collection.id))
    session.commit()


def may_collect(job: Job, owner_id: str) -> bool:
    """Whether the account of ``owner_id`` may put ``job`` in a collection: a finished
    result of its own, or a public one of anyone's, neither hidden nor deleted."""
    usable = job.state == JobState.SUCCEEDED and not job.hidden and job.deleted_at is None
    return usable and (job.owner_id == owner_id or job.visibility == "public")


def add_item(session: Session, collection: Collection, owner_id: str, job: Job) -> None:
    """Put ``job`` in ``collection`` (there already: nothing changes)."""
    if not may_collect(job, owner_id):
        raise Refused("only your own finished results and others' public ones go in a "
                      "collection", 409)
    begin_write(session)
    count = session.scalar(select(func.count()).select_from(CollectionItem)
                           .where(CollectionItem.collection_id == collection.id)) or 0
    if session.get(CollectionItem, (collection.id, job.id)) is None:
        if count >= MAX_ITEMS:
            session.rollback()
            raise Refused(f"a collection holds at most {MAX_ITEMS} results", 409)
        session.add(CollectionItem(collection_id=collection.id, job_id=job.id,
                                   added_at=utcnow()))
    session.commit()


def remove_item(session: Session, collection: Collection, job: Job) -> None:
    begin_write(session)
    session.execute(delete(CollectionItem).where(CollectionItem.collection_id == collection.id,
                                                 CollectionItem.job_id == job.id))
    session.commit()


def shown_items(session: Session, collection: Collection, page: int = 1,
                per_page: int = 24) -> tuple[list[Job], int]:
    """The collection's results as anyone who may open it sees them (see the module
    docstring), newest added first, one page of them, and how many there are."""
    owner_id = session.scalar(select(Account.owner_id)
                              .where(Account.id == collection.account_id))
    where = (CollectionItem.collection_id == collection.id,
             Job.state == JobState.SUCCEEDED, Job.hidden.is_(False), Job.deleted_at.is_(None),
             or_(Job.visibility == "public", Job.owner_id == owner_id))
    joined = select(Job).join(CollectionItem, CollectionItem.job_id == Job.id)
    total = session.scalar(select(func.count()).select_from(Job)
                           .join(CollectionItem, CollectionItem.job_id == Job.id).where(*where))
    jobs = session.scalars(joined.where(*where)
                           .order_by(CollectionItem.added_at.desc(), Job.id.desc())
                           .offset((max(1, page) - 1) * per_page).limit(per_page)).all()
    return list(jobs), int(total or 0)


def collections_of(session: Session, account: Account,
                   only_public: bool) -> list[tuple[Collection, int]]:
    """An account's collections, newest first, each with how many results it holds."""
    count = (select(func.count()).select_from(CollectionItem)
             .where(CollectionItem.collection_id == Collection.id).scalar_subquery())
    query = select(Collection, count).where(Collection.account_id == account.id)
    if only_public:
        query = query.where(Collection.visibility == "public")
    return [(c, int(n)) for c, n in session.execute(query.order_by(Collection.id.desc()))]


def collections_holding(session: Session, account_id: int, job_id: int) -> set[int]:
    """Which of the account's collections hold the job."""
    return set(session.scalars(select(CollectionItem.collection_id)
                               .join(Collection, Collection.id == CollectionItem.collection_id)
                               .where(and_(Collection.account_id == account_id,
                                           CollectionItem.job_id == job_id))))
