"""The admin token: the one secret that opens the admin page, its forms and JSON endpoints,
``/metrics`` and moderation. Nobody is admin because of the address they come from (a reverse
proxy on the same machine makes every visitor look local).

* ``DREAMGEN_ADMIN_TOKEN`` set: that token; shorter than :data:`MIN_TOKEN_CHARS` characters
  and the studio refuses to start.
* Unset: the token in ``<data folder>/admin-token`` (mode 0600), made on first start from 32
  random bytes. It is written in full under a temporary name, then hard-linked to its real
  name, which fails when another process got there first: web processes sharing the data
  folder that start at the same moment agree on one token.

``dreamgen admin token`` prints it with a sign-in link; ``--new`` replaces it, which signs
everyone out. The web app re-reads the file when it changes (a ``stat`` per admin request),
so a new token counts at once, without a restart.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from app.settings import Settings

MIN_TOKEN_CHARS = 16
TOKEN_FILE_NAME = "admin-token"
ENV_NAME = "DREAMGEN_ADMIN_TOKEN"


class AdminTokenError(ValueError):
    """The admin token cannot be used (too short, or its file cannot be read or written)."""


def token_file(settings: "Settings") -> Path:
    """Where the generated token is kept: ``<data folder>/admin-token``, as a full path."""
    return Path(settings.data_dir).expanduser().absolute() / TOKEN_FILE_NAME


def checked_token(token: str, where: str) -> str:
    """``token`` without surrounding blanks; :class:`AdminTokenError` when it is too short
    to be out of reach of guessing."""
    token = token.strip()
    if len(token) < MIN_TOKEN_CHARS:
        raise AdminTokenError(
            f"The admin token in {where} is {len(token)} characters long; it needs at least "
            f"{MIN_TOKEN_CHARS}. Leave {ENV_NAME} unset to have the studio make one, or set "
            "a long random one (python -c \"import secrets; print(secrets.token_urlsafe(32))\").")
    return token


def _write_temporary(folder: Path, token: str) -> Path:
    handle, name = tempfile.mkstemp(dir=folder, prefix=f".{TOKEN_FILE_NAME}.")  # mode 0600
    with os.fdopen(handle, "w") as out:
        out.write(token + "\n")
        out.flush()
        os.fsync(out.fileno())
    return Path(name)


def read_or_create(path: Path) -> str:
    """The token in ``path``, made first when there is none (see the module docstring)."""
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp = _write_temporary(path.parent, secrets.token_urlsafe(32))
            try:
                os.link(temp, path)          # all or nothing, and only if no one was first
            except FileExistsError:
                pass
            finally:
                temp.unlink(missing_ok=True)
        except OSError as exc:
            raise AdminTokenError(f"The admin token file {path} cannot be made "
                                  f"({exc.strerror or exc}).") from None
    try:
        return checked_token(path.read_text(), str(path))
    except OSError as exc:
        raise AdminTokenError(f"The admin token file {path} cannot be read "
                              f"({exc.strerror or exc}).") from None


def replace_token(path: Path) -> str:
    """Put a new random token in ``path`` (atomically) and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    temp = _write_temporary(path.parent, token)
    try:
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return token


@dataclass
class AdminToken:
    """This studio's admin token: from the environment, or from its file (re-read whenever
    the file changes)."""

    env_token: str
    path: Path
    _seen: tuple[tuple[int, int, int], str] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(cls, settings: "Settings") -> "AdminToken":
        """The settings' token, checked, its file made if needed (:class:`AdminTokenError`
        says why the studio cannot start)."""
        source = cls(settings.admin_token.strip(), token_file(settings))
        if source.env_token:
            checked_token(source.env_token, ENV_NAME)
        source.current()
        return source

    @property
    def from_file(self) -> bool:
        return not self.env_token

    def current(self) -> str:
        """The token now (a ``stat`` when it comes from the file)."""
        if self.env_token:
            return checked_token(self.env_token, ENV_NAME)
        with self._lock:
            try:
                stat = self.path.stat()
            except OSError:
                return read_or_create(self.path)      # deleted: a new one, as on first start
            key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            if self._seen is None or self._seen[0] != key:
                self._seen = (key, read_or_create(self.path))
            return self._seen[1]


def sign_in_link(settings: "Settings", token: str, host: str | None = None,
                 port: int | None = None) -> str:
    """The admin page's address with the token in its fragment (``/admin#token=...``):
    browsers never send a fragment, so the token reaches no access log; the page's script
    posts it to the sign-in form."""
    base = settings.public_url.strip().rstrip("/")
    if not base:
        host = host or settings.host
        shown = "localhost" if host in ("", "0.0.0.0", "::") else host
        shown = f"[{shown}]" if ":" in shown else shown
        base = f"http://{shown}:{port or settings.port}"
    return f"{base}/admin#token={quote(token, safe='')}"


def sign_in_help(settings: "Settings", source: AdminToken, host: str | None = None,
                 port: int | None = None) -> str:
    """What `dreamgen serve` and `dreamgen admin token` print: where the token is, and the
    one-click sign-in link when the studio made the token."""
    if not source.from_file:
        base = sign_in_link(settings, "", host, port).split("#", 1)[0]
        return f"Admin: sign in on {base} with the token set in {ENV_NAME}."
    return (f"Admin token: in {source.path} (`dreamgen admin token` prints it).\n"
            f"Admin sign-in link (keep it private): "
            f"{sign_in_link(settings, source.current(), host, port)}")
