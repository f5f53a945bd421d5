"""Passwords: hashed with Argon2id (``argon2-cffi``'s defaults: 64 MiB, 3 passes), never
kept in any other form.

Checking a sign-in costs the same whether the name exists or not: an unknown name is checked
against a hash of a random password made once (:func:`verify_or_waste`), so neither the
answer nor its time tells whether an account of that name exists. At most
:data:`CONCURRENT_HASHES` hashes run at once in a process (each takes 64 MiB and about
0.1 s of a core), so a crowd of sign-ins waits in line instead of taking the memory.
"""

from __future__ import annotations

import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.refusals import Refused

MIN_PASSWORD = 8
MAX_PASSWORD = 200
CONCURRENT_HASHES = 4

_HASHER = PasswordHasher()
_SLOTS = threading.BoundedSemaphore(CONCURRENT_HASHES)
_DECOY: list[str] = []
_DECOY_LOCK = threading.Lock()


def check_password_rules(password: str) -> None:
    """Refuse (422) a password too short to resist guessing, or absurdly long."""
    if len(password) < MIN_PASSWORD:
        raise Refused(f"choose a password of at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise Refused(f"a password may have at most {MAX_PASSWORD} characters")


def hash_password(password: str) -> str:
    """The Argon2id hash of ``password`` (salted: the same password hashes differently)."""
    with _SLOTS:
        return _HASHER.hash(password)


def _decoy_hash() -> str:
    with _DECOY_LOCK:
        if not _DECOY:
            _DECOY.append(hash_password(secrets.token_urlsafe(16)))
        return _DECOY[0]


def warm_up() -> None:
    """Make the decoy hash now (at start), not on the first unknown name."""
    _decoy_hash()


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``."""
    with _SLOTS:
        try:
            return _HASHER.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False


def verify_or_waste(stored_hash: str | None, password: str) -> bool:
    """:func:`verify_password` against ``stored_hash``, or, when there is none (no such
    account), the same work against a decoy hash, answering False."""
    if stored_hash is None:
        verify_password(_decoy_hash(), password)
        return False
    return verify_password(stored_hash, password)
