"""Names people see: a result's title, and the file name its download gets.

A file's name can say more than its owner means to publish ("Anna Schmidt passport scan"),
so what others see never comes from a file name: the title the owner typed, else
"Untitled". Only the owner also sees their content file's name as the title
(``chelsea_at_home.png`` → "Chelsea at home") until they type one. Download names are
``dreamgen-<content>-<style>-<id>.png`` for the owner and ``dreamgen-<title>-<id>.png``
for others, in safe ASCII (letters, digits, dashes), so every browser and file system keeps
them as they are.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath, PureWindowsPath

from app.db.models import Job

TITLE_MAX = 120
NAME_PART_MAX = 40
UNTITLED = "Untitled"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def file_stem(name: str | None) -> str:
    """The stem of an uploaded file's name, whichever system's path it came with."""
    if not name:
        return ""
    base = PureWindowsPath(PurePosixPath(name).name).name
    return base.rsplit(".", 1)[0] if "." in base.strip(".") else base


def clean_title(text: str | None) -> str | None:
    """A title as typed, tidied: no control characters, spaces collapsed, at most
    :data:`TITLE_MAX` characters; None when nothing is left (the default title then)."""
    tidy = " ".join(_CONTROL.sub(" ", text or "").split())[:TITLE_MAX].strip()
    return tidy or None


def title_from_name(name: str | None) -> str | None:
    """"Chelsea at home" from ``chelsea_at_home.png`` (None when the name gives nothing)."""
    words = clean_title(re.sub(r"[_\-.+]+", " ", file_stem(name)))
    return words[:1].upper() + words[1:] if words else None


def is_owner(job: Job, viewer: str | None) -> bool:
    """Whether the visitor ``viewer`` (an owner id; None: anyone) made ``job``."""
    return viewer is not None and viewer == job.owner_id


def display_title(job: Job, viewer: str | None = None) -> str:
    """What a card and a result page call ``job`` for the visitor ``viewer``: the title its
    owner typed; for the owner alone, else their content file's name; else "Untitled"."""
    if job.title:
        return job.title
    mine = title_from_name(job.content_name) if is_owner(job, viewer) else None
    return mine or UNTITLED


def ascii_slug(text: str, fallback: str) -> str:
    """``text`` as lower-case ASCII letters, digits and single dashes (accents dropped,
    e.g. "Étude №5" → "etude-no5"), at most :data:`NAME_PART_MAX` long, or ``fallback``."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:NAME_PART_MAX].strip("-")
    return slug or fallback


def download_name(job: Job, viewer: str | None = None) -> str:
    """The file name ``job``'s result downloads as for the visitor ``viewer``: for its owner
    ``dreamgen-<content>-<style>-<id>.<png|mp4>`` (the style part is the first style's name,
    ``-and-N-more`` with several, or the engine for Deep Dream without a guide); for others
    ``dreamgen-<typed title, else "result">-<id>.<png|mp4>``, no file name in it. The id is
    the job's, as in its URL."""
    suffix = ".mp4" if job.kind == "video" else ".png"
    job_id = re.sub(r"[^A-Za-z0-9_-]", "", job.public_id) or "result"
    if not is_owner(job, viewer):
        return f"dreamgen-{ascii_slug(job.title or '', 'result')}-{job_id}{suffix}"
    content = ascii_slug(file_stem(job.content_name), "photo" if job.kind == "image" else "clip")
    names = [n for n in job.style_names or [] if n]
    if names:
        style = ascii_slug(file_stem(names[0]), "style")
        if len(job.style_paths) > 1:
            style += f"-and-{len(job.style_paths) - 1}-more"
    else:
        style = ascii_slug(job.engine, "style") if not job.style_paths else "style"
    return f"dreamgen-{content}-{style}-{job_id}{suffix}"
