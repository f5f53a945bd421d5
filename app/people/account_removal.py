"""Leaving: an account's results exported as a ZIP, and the account deleted with everything
it owns.

The export holds every finished result (pictures as PNG, clips as MP4, named as their
downloads are) and ``settings.json``: each result's title, engine, settings, size, times and
visibility, so the person can make any of them again elsewhere. It is written to a temporary
file in the media folder (never held in memory whole), which the caller removes after
sending.

Deleting removes every job of the account with its files (a running one is stopped first
and removed once its worker lets go), its avatar, what it spent of its allowance, and the
account row, whose sessions, likes, comments, follows, collections and reports go with it.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.db.community import Account, WorkSpent
from app.db.engine import begin_write
from app.db.models import Job, JobState, as_utc
from app.people.titles import display_title, download_name
from app.people.trash import remove_for_good
from app.storage import MediaStore


def finished_results(session: Session, owner_id: str) -> list[Job]:
    """``owner_id``'s finished results (not deleted), oldest first."""
    return list(session.scalars(select(Job).where(Job.owner_id == owner_id,
                                                  Job.state == JobState.SUCCEEDED,
                                                  Job.deleted_at.is_(None))
                                .order_by(Job.id)))


def result_settings(job: Job, owner_id: str) -> dict[str, object]:
    """What ``settings.json`` says of one result."""
    when = {name: (as_utc(getattr(job, name)).isoformat() if getattr(job, name) else None)
            for name in ("created_at", "finished_at")}
    return {"id": job.public_id, "file": download_name(job, owner_id),
            "title": display_title(job, owner_id), "kind": job.kind, "engine": job.engine,
            "options": job.options, "width": job.width, "height": job.height,
            "visibility": job.visibility, "hidden_by_admin": job.hidden, **when}


def write_export(session: Session, store: MediaStore, account: Account) -> Path:
    """The ZIP of ``account``'s results in a temporary file of the media folder (the caller
    sends it, then deletes it)."""
    jobs = finished_results(session, account.owner_id)
    path = store.temp_path_for(store.new_path("exports", ".zip"))
    try:
        with zipfile.ZipFile(path, "w") as archive:
            settings = []
            for job in jobs:
                if not store.exists(job.result_path):
                    continue
                name = download_name(job, account.owner_id)
                # pictures and clips are compressed already: stored as they are
                archive.write(store.path(job.result_path or ""), f"results/{name}",
                              compress_type=zipfile.ZIP_STORED)
                settings.append(result_settings(job, account.owner_id))
            archive.writestr("settings.json", json.dumps(
                {"account": account.username, "results": settings}, indent=2),
                compress_type=zipfile.ZIP_DEFLATED)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def delete_account(session: Session, store: MediaStore, account: Account) -> int:
    """Delete ``account`` and everything it owns (see the module docstring); returns how
    many jobs went with it."""
    jobs = list(session.scalars(select(Job).where(Job.owner_id == account.owner_id)))
    for job in jobs:
        remove_for_good(session, store, job)
    avatar = account.avatar_path
    begin_write(session)
    session.execute(delete(WorkSpent).where(WorkSpent.owner_id == account.owner_id))
    session.execute(delete(Account).where(Account.id == account.id))
    session.commit()
    if avatar:
        store.remove([avatar])
    return len(jobs)
