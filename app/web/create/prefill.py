"""What the create page starts with: the quality choices, the library picker, and the files
and settings it is pre-filled with — ``/?from=<job>`` (the owner's own job: every setting,
its photo and its styles, for "try again"), ``/?style_from=<job>`` (an earlier result's
styles) and ``/?style_id=N`` (repeatable: styles picked in the library) — or, after a
refusal without JavaScript, what was just submitted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from app.db.models import Job, JobState
from app.engine.presets import PRESETS, preset_values
from app.engine.registry import BY_NAME
from app.engine.weights.store import WeightStore
from app.jobs.queue import get_job
from app.people.styles import (
    StyleUnavailable,
    job_style_ids,
    job_style_shares,
    listed_styles,
    usable_style,
)
from app.web.create.form import page_defaults
from app.web.schemas import job_style_url, media_url
from app.web.visibility import HIDDEN_REUSE, hidden_style_ids, reuse_refusal

PICKER_SIZE = 24
# The page's fields and what they start as (blank: the quality choice decides).
DEFAULTS: dict[str, Any] = page_defaults()
FROM_PRESET = ("engine", "size", "iterations", "enhance", "octaves", "dream_iterations")


@dataclass
class StyleCard:
    """A style already chosen when the page opens: a library pick (``style_id``) or an
    earlier result's style (``style_from``)."""

    image: str
    weight: float = 1.0
    style_id: int | None = None
    label: str = "Style"


@dataclass
class Prefill:
    """Everything the create template needs beyond the engines and the settings."""

    values: dict[str, Any] = field(default_factory=lambda: dict(DEFAULTS))
    cards: list[StyleCard] = field(default_factory=list)
    guide: StyleCard | None = None
    style_from: str | None = None
    content_from: str | None = None
    content_url: str | None = None
    content_kind: str | None = None
    notes: list[str] = field(default_factory=list)


def _weights_of(job: Job) -> list[float]:
    weights = job.chosen.style_weights or ()
    return [float(w) for w in weights] + [1.0] * (len(job.style_paths) - len(weights))


def _from_job(session: Session, weights: WeightStore, job: Job, owner: str) -> Prefill:
    """The owner's job ``job`` as a form: its settings, its photo, its styles."""
    prefill = Prefill(content_from=job.public_id, content_url=media_url(job.content_path),
                      content_kind=job.kind)
    spec = BY_NAME.get(job.engine)
    mode = "dream" if spec is not None and spec.mode == "dream" else "style"
    options = {k: v for k, v in job.options.items() if v is not None}
    prefill.values.update({k: options[k] for k in DEFAULTS if k in options},
                          mode=mode, engine="" if mode == "dream" else job.engine,
                          size=options.get("size", ""), visibility=job.visibility,
                          preset=options.get("preset") or "", title=job.title or "",
                          share_styles=any(job_style_shares(session, job.id)))
    _blank_what_the_preset_gives(prefill.values, weights)
    ids = job_style_ids(session, job.id)
    hidden = hidden_style_ids(session, job)
    if hidden:
        prefill.notes.append("The studio's admin took a style of that job out of the "
                             "library, so it was left out; add or pick another.")
    cards = [_card(session, sid, owner, weight, job_style_url(job, i))
             for i, (sid, weight) in enumerate(zip(ids + [None] * len(job.style_paths),
                                                   _weights_of(job))) if i not in hidden]
    if any(card.style_id is None for card in cards):      # from before the library
        cards = [StyleCard(job_style_url(job, i), w, None, "Earlier style")
                 for i, w in enumerate(_weights_of(job))]
        prefill.style_from = job.public_id \
            if job.state == JobState.SUCCEEDED and not hidden else None
        cards = cards if prefill.style_from else []
    if mode == "dream":
        prefill.guide = cards[0] if cards else None
    else:
        prefill.cards = cards
    return prefill


def _card(session: Session, style_id: int | None, owner: str, weight: float,
          image: str) -> StyleCard:
    if style_id is None:
        return StyleCard(image, weight)
    try:
        usable_style(session, style_id, owner)
    except StyleUnavailable:
        return StyleCard(image, weight)
    return StyleCard(image, weight, style_id, "Style")


def _blank_what_the_preset_gives(values: dict[str, Any], weights: WeightStore) -> None:
    """Leave blank the fields whose value is the job's quality choice's own, so choosing
    another quality changes them (an explicit field would win over it)."""
    if values.get("preset") not in PRESETS:
        return
    given = preset_values(values["preset"], values["mode"],
                          lambda name: weights.engine_ready(BY_NAME[name]))
    for name in FROM_PRESET:
        if name in given and str(values.get(name, "")) == str(given[name]):
            values[name] = ""


def _picked(session: Session, style_ids: list[int], owner: str, prefill: Prefill) -> None:
    """Cards for ``/?style_id=N`` (each once), and a note for any that cannot be used."""
    for style_id in dict.fromkeys(style_ids):
        try:
            style = usable_style(session, style_id, owner)
        except StyleUnavailable as exc:
            prefill.notes.append(_sentence(str(exc)))
            continue
        prefill.cards.append(StyleCard(media_url(style.path) or "", 1.0, style.id,
                                       style.title or "From the library"))


def _reused(session: Session, style_from: str, owner: str, prefill: Prefill) -> None:
    job = get_job(session, style_from)
    if job is None or job.state != JobState.SUCCEEDED or job.deleted_at is not None:
        prefill.notes.append("The result whose style you wanted to reuse is gone.")
        return
    refusal = reuse_refusal(session, job, owner)
    if refusal is not None:
        prefill.notes.append(_sentence(refusal[1]))
        return
    prefill.style_from = job.public_id
    prefill.cards = [StyleCard(job_style_url(job, i), w, None, "Earlier style")
                     for i, w in enumerate(_weights_of(job))]


def _sentence(text: str) -> str:
    """``text`` as a sentence: capital first, full stop last."""
    text = text.strip()
    return f"{text[:1].upper()}{text[1:]}" + ("" if text.endswith(".") else ".")


def build_prefill(session: Session, weights: WeightStore, owner: str, *,
                  from_job: str | None = None, style_from: str | None = None,
                  style_ids: list[int] | None = None) -> Prefill:
    """The create page's starting point for these query parameters."""
    prefill = Prefill()
    if from_job:
        job = get_job(session, from_job)
        if job is None or job.deleted_at is not None:
            prefill.notes.append("That earlier job is gone; start afresh.")
        elif job.owner_id != owner:
            prefill.notes.append("Only the person who made that job can reuse its photo "
                                 "and settings.")
        elif job.hidden:
            prefill.notes.append(_sentence(HIDDEN_REUSE))
        else:
            prefill = _from_job(session, weights, job, owner)
    if style_from and not prefill.style_from and not from_job:
        _reused(session, style_from, owner, prefill)
    _picked(session, style_ids or [], owner, prefill)
    return prefill


def from_submitted(prefill: Prefill, submitted: dict[str, Any]) -> Prefill:
    """``prefill`` with the values of a refused no-JavaScript submission (files cannot be
    sent back to a browser: those are chosen again)."""
    prefill.values.update({k: v for k, v in submitted.items() if k in DEFAULTS})
    return prefill


def library_picker(session: Session) -> list[dict[str, Any]]:
    """The most used styles, for the picker on the create page."""
    listed, _ = listed_styles(session, 1, PICKER_SIZE)
    return [{"id": item.style.id, "thumb": media_url(item.style.thumb_path or item.style.path),
             "image": media_url(item.style.path), "title": item.style.title,
             "uses": item.uses} for item in listed]
