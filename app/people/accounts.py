"""Optional accounts: names, signing up and in, passwords, and carrying a browser's jobs over.

An account has its own owner id (:class:`app.db.community.Account`): signed in, a browser
acts as that owner id instead of its cookie's, so every rule about whose job is whose holds
unchanged. On sign-up and sign-in the jobs of the browser's own owner id become the
account's (:func:`carry_over`). Anonymous use needs none of this.

Signing in answers the same, in the same time, for an unknown name and a wrong password
(:func:`app.people.passwords.verify_or_waste`); only the right password learns that an
account was disabled.
"""

from __future__ import annotations

import re
import secrets

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.community import Account, WorkSpent
from app.db.engine import begin_write
from app.db.models import Job, OwnerKey
from app.people.account_links import use_token
from app.people.account_sessions import end_all_sessions
from app.people.passwords import (
    check_password_rules,
    hash_password,
    verify_or_waste,
    verify_password,
)
from app.refusals import Refused

NAME_RULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{2,29}")
RESERVED = frozenset({"admin", "administrator", "root", "dreamgen", "moderator", "staff",
                      "support", "system", "me", "api", "anonymous"})
BAD_NAME = ("a name has 3 to 30 letters, digits, dots, dashes or underscores, and starts "
            "with a letter or a digit")
NAME_TAKEN = "that name is taken; choose another"
SIGN_IN_FAILED = "That name and password do not match an account here."
DISABLED = "This account was disabled by the studio's admin."
WRONG_CURRENT = "the current password is not right"


def name_key(name: str) -> str:
    """The form names are compared in (case does not make a different name)."""
    return name.strip().lower()


def check_username(name: str) -> str:
    """``name`` without surrounding blanks, or a 422 saying what a name may be."""
    name = name.strip()
    if not NAME_RULE.fullmatch(name):
        raise Refused(BAD_NAME)
    if name_key(name) in RESERVED:
        raise Refused(f"the name {name!r} is kept for the studio; choose another")
    return name


def find_account(session: Session, name: str) -> Account | None:
    """The account called ``name`` (any case), disabled ones included."""
    if not NAME_RULE.fullmatch(name.strip()):
        return None
    return session.scalar(select(Account).where(Account.username_key == name_key(name)))


def account_by_id(session: Session, account_id: int) -> Account | None:
    return session.get(Account, account_id)


def create_account(session: Session, name: str, password: str, browser_owner: str,
                   invite: str | None = None) -> Account:
    """A new account called ``name``, given the jobs of ``browser_owner`` (the browser that
    signs up); ``invite`` (while sign-up is by invitation) is spent in the same
    transaction. Raises :class:`Refused`: a bad name or password (422), a bad invite (403),
    a taken name (409)."""
    name = check_username(name)
    check_password_rules(password)
    hashed = hash_password(password)          # before the write lock: it takes 0.1 s
    begin_write(session)
    if session.scalar(select(Account.id).where(Account.username_key == name_key(name))):
        session.rollback()
        raise Refused(NAME_TAKEN, 409)
    if invite is not None:
        use_token(session, invite, "invite")
    account = Account(owner_id=secrets.token_urlsafe(24), username=name,
                      username_key=name_key(name), password_hash=hashed)
    session.add(account)
    try:
        session.flush()
    except IntegrityError:                    # the same name at the same moment elsewhere
        session.rollback()
        raise Refused(NAME_TAKEN, 409) from None
    carry_over(session, browser_owner, account)
    session.commit()
    return account


def authenticate(session: Session, name: str, password: str) -> Account:
    """The account ``name`` when ``password`` is its own; :class:`Refused` (401) with the
    same words and about the same work for an unknown name and a wrong password, 403 for
    a disabled account's right password."""
    account = find_account(session, name)
    matches = verify_or_waste(account.password_hash if account else None, password)
    if account is None or not matches:
        raise Refused(SIGN_IN_FAILED, 401)
    if account.disabled_at is not None:
        raise Refused(DISABLED, 403)
    return account


def carry_over(session: Session, browser_owner: str, account: Account) -> int:
    """Give ``account`` the jobs (and what they spent of the day's allowance) of the
    browser's owner id, inside the caller's write transaction; the browser's key link
    retires (nothing is left to open). Returns how many jobs moved."""
    if not browser_owner or browser_owner == account.owner_id:
        return 0
    begin_write(session)
    moved = session.execute(update(Job).where(Job.owner_id == browser_owner)
                            .values(owner_id=account.owner_id)
                            .execution_options(synchronize_session=False)).rowcount
    session.execute(update(WorkSpent).where(WorkSpent.owner_id == browser_owner)
                    .values(owner_id=account.owner_id)
                    .execution_options(synchronize_session=False))
    session.execute(delete(OwnerKey).where(OwnerKey.owner_id == browser_owner))
    return int(moved or 0)


def sign_in_carry_over(session: Session, browser_owner: str, account: Account) -> int:
    """:func:`carry_over` in its own transaction (on sign-in)."""
    moved = carry_over(session, browser_owner, account)
    session.commit()
    return moved


def change_password(session: Session, account: Account, current: str, new: str,
                    keep_session: str | None) -> None:
    """Set a new password after checking the current one (403 when wrong); every other
    session of the account ends (``keep_session``, this browser's, stays)."""
    if not verify_password(account.password_hash, current):
        raise Refused(WRONG_CURRENT, 403)
    set_password(session, account, new, keep_session)


def set_password(session: Session, account: Account, new: str,
                 keep_session: str | None = None) -> None:
    """Set ``account``'s password (rules checked) and end its sessions but ``keep_session``."""
    check_password_rules(new)
    hashed = hash_password(new)
    begin_write(session)
    account.password_hash = hashed
    end_all_sessions(session, account.id, keep=keep_session)
    session.commit()
