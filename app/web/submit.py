"""Turning a submitted form (page or API) into a queued job.

Order matters: cheap checks on the values first, then the bytes are read (size limits), then,
in a worker thread so the event loop keeps serving, the engine's weights, the disk floor, the
files (validated and fsynced), and only then the job row. Any failure removes what was stored.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated

from fastapi import Depends, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from app.engine.api import ENGINES, FEED_FORWARD_ENGINES, resolve_engine
from app.engine.errors import WeightsMissingError
from app.engine.weights import engine_status
from app.jobs.models import Job
from app.jobs.queue import enqueue_job, get_job
from app.settings import Settings
from app.storage import MediaStore
from app.web.errors import UploadRejected
from app.web.uploads import (StoredUpload, check_free_disk, read_limited, store_content,
                             store_image, style_label)

MAX_STYLES = 8
MIN_SIZE = 64
MAX_ITERATIONS = 2000


@dataclass(frozen=True)
class JobRequest:
    """The values of the create form, checked."""

    engine: str = "auto"
    alpha: float = 1.0
    style_weights: tuple[float, ...] | None = None
    preserve_color: bool = False
    size: int = 512
    iterations: int = 300
    visibility: str = "public"

    def options(self) -> dict[str, object]:
        """What the job row keeps in ``options`` (and the result page shows)."""
        values = asdict(self)
        values["style_weights"] = list(self.style_weights) if self.style_weights else None
        values.pop("visibility")
        return values


@dataclass
class SubmittedForm:
    """The create form's raw fields, shared by the JSON API and the HTML form."""

    content: UploadFile | str | None
    styles: list[UploadFile | str]
    engine: str
    alpha: float
    style_weights: str
    preserve_color: bool
    size: int
    iterations: int
    visibility: str
    style_from: str | None

    def job_request(self) -> JobRequest:
        """The values as a :class:`JobRequest` (raises :class:`UploadRejected` for bad style
        weights, so each caller reports it its own way)."""
        return JobRequest(engine=self.engine, alpha=self.alpha,
                          style_weights=parse_style_weights(self.style_weights),
                          preserve_color=self.preserve_color, size=self.size,
                          iterations=self.iterations, visibility=self.visibility)


def submitted_form(content: Annotated[UploadFile | str | None, File()] = None,
                   style: Annotated[list[UploadFile | str] | None, File()] = None,
                   engine: Annotated[str, Form()] = "auto",
                   alpha: Annotated[float, Form()] = 1.0,
                   style_weights: Annotated[str, Form()] = "",
                   preserve_color: Annotated[bool, Form()] = False,
                   size: Annotated[int, Form()] = 512,
                   iterations: Annotated[int, Form()] = 300,
                   visibility: Annotated[str, Form()] = "public",
                   style_from: Annotated[str, Form()] = "") -> SubmittedForm:
    """The multipart fields of a create request (``content`` plus one or more ``style``)."""
    return SubmittedForm(content, style or [], engine, alpha, style_weights, preserve_color,
                         size, iterations, visibility, style_from or None)


FormDep = Annotated[SubmittedForm, Depends(submitted_form)]


def parse_style_weights(text: str | None) -> tuple[float, ...] | None:
    """``"1, 2"`` → ``(1.0, 2.0)``; blank → None."""
    if not text or not text.strip():
        return None
    try:
        weights = tuple(float(part) for part in text.replace(";", ",").split(","))
    except ValueError as exc:
        raise UploadRejected(f"style weights {text!r} are not numbers separated by commas") \
            from exc
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise UploadRejected("style weights must be zero or more and not all zero")
    return weights


def check_request(req: JobRequest, settings: Settings) -> None:
    """Refuse impossible values with a message a person can act on."""
    if req.engine != "auto" and req.engine not in ENGINES:
        raise UploadRejected(f"unknown engine {req.engine!r}; choose one of "
                             f"auto, {', '.join(ENGINES)}")
    if not 0.0 <= req.alpha <= 1.0:
        raise UploadRejected(f"style strength must be between 0 and 1, not {req.alpha:g}")
    if not MIN_SIZE <= req.size <= settings.max_output_side:
        raise UploadRejected(f"output size must be between {MIN_SIZE} and "
                             f"{settings.max_output_side} pixels, not {req.size}")
    if not 1 <= req.iterations <= MAX_ITERATIONS:
        raise UploadRejected(f"iterations must be between 1 and {MAX_ITERATIONS}")
    if req.visibility not in ("public", "unlisted"):
        raise UploadRejected("visibility must be public or unlisted")


def ready_engine(name: str) -> str:
    """The concrete engine for ``name``, refusing one whose weights are not installed."""
    engine = resolve_engine(name)
    status = engine_status(engine)
    if not status.ready:
        raise WeightsMissingError(f"the {status.label} engine has no weights here "
                                  f"({status.detail}).", status.fix_command)
    return engine


async def create_job(session: Session, store: MediaStore, settings: Settings, owner_id: str,
                     req: JobRequest, content: UploadFile | str | None,
                     styles: list[UploadFile | str],
                     style_from: str | None = None) -> Job:
    """Validate everything, store the files, queue the job. Raises ``StyleTransferError``."""
    check_request(req, settings)
    # A browser sends a file input left empty as a part with no filename, which arrives as "".
    styles = [s for s in styles if not isinstance(s, str) and (s.filename or s.size)]
    if content is None or isinstance(content, str) or not (content.filename or content.size):
        raise UploadRejected("choose a content image or video")
    if len(styles) > MAX_STYLES:
        raise UploadRejected(f"use at most {MAX_STYLES} style images")
    content_data = await read_limited(content, settings, "the content file")
    style_data = [await read_limited(s, settings, style_label(i, len(styles)))
                  for i, s in enumerate(styles)]
    # Decoding, probing, fsync and SQLite may block for a while: never on the event loop,
    # where a wait for a pooled connection would also stall the requests that return them.
    return await run_in_threadpool(store_and_enqueue, session, store, settings, owner_id, req,
                                   content_data, style_data, style_from)


def store_and_enqueue(session: Session, store: MediaStore, settings: Settings, owner_id: str,
                      req: JobRequest, content_data: bytes, style_data: list[bytes],
                      style_from: str | None) -> Job:
    """The blocking half of :func:`create_job`: the reused style, the engine's weights, the
    disk floor, the files (validated and fsynced), then the job row."""
    reused = [] if style_data else _reused_styles(session, style_from)  # new styles replace it
    if not style_data and not reused:
        raise UploadRejected("choose at least one style image")
    count = len(style_data) + len(reused)
    if req.style_weights is not None and len(req.style_weights) != count:
        raise UploadRejected(f"{len(req.style_weights)} style weights given for {count} "
                             "style images; give one per style or none")
    engine = ready_engine(req.engine)
    check_free_disk(store, settings)
    stored: list[StoredUpload] = []
    try:
        main = store_content(store, content_data, settings)
        stored.append(main)
        if main.kind == "video" and engine not in FEED_FORWARD_ENGINES:
            raise UploadRejected("Gatys works on images only; choose AdaIN or MicroAST "
                                 "for video")
        for i, data in enumerate(style_data):
            stored.append(store_image(store, data, style_label(i, len(style_data)), settings))
        for rel in reused:
            stored.append(store_image(store, store.path(rel).read_bytes(), "the reused style",
                                      settings))
        return enqueue_job(session, owner_id=owner_id, kind=main.kind, engine=engine,
                           options={**req.options(), "engine": engine},
                           content_path=main.rel, style_paths=[s.rel for s in stored[1:]],
                           visibility=req.visibility)
    except BaseException:
        store.remove([s.rel for s in stored])
        raise


def _reused_styles(session: Session, style_from: str | None) -> list[str]:
    """Style files of an earlier finished job ("use this style again")."""
    if not style_from:
        return []
    job = get_job(session, style_from)
    if job is None or job.state != "succeeded":
        raise UploadRejected("the result whose style you wanted to reuse is gone", 404)
    return list(job.style_paths)
