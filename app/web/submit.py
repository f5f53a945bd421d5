"""Turning a submitted form (page or API) into a queued job.

Order matters: the values first (the options schema, then what this server allows), then the
engine (known, installed), then the bytes are streamed to temporary files (size limits), then,
in a worker thread so the event loop keeps serving, the disk floor, the files (checked in a
child process, fsynced) and only then the job row. Any failure removes what was stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, File, Form, UploadFile
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.engine.dispatch import resolve_engine, video_refusal
from app.engine.errors import StyleTransferError
from app.engine.options import MAX_STYLES, StyleOptions, parse_options
from app.engine.registry import CHOICES, EngineSpec
from app.engine.weights import WeightStore
from app.jobs.models import Job, JobState
from app.jobs.queue import enqueue_job, get_job
from app.settings import Settings
from app.storage import MediaStore
from app.web.errors import UploadRejected
from app.web.uploads import (StoredUpload, check_free_disk, copy_stored, save_raw,
                             store_uploads, style_label)

MIN_SIZE = 64
VISIBILITIES = ("public", "unlisted")
NOT_INSTALLED = ("the {label} engine is not installed on this server; ask its admin to add "
                 "it, or choose another engine")


class EngineNotInstalled(UploadRejected):
    """A request for an engine whose weights this server does not have (409)."""

    def __init__(self, spec: EngineSpec) -> None:
        super().__init__(NOT_INSTALLED.format(label=spec.label), 409)


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
    mode: str = "style"
    extra: dict[str, str] = field(default_factory=dict)   # Deep Dream and clip fields

    def options(self, settings: Settings) -> StyleOptions:
        """The options schema applied to the fields, plus this server's own limits; raises
        :class:`UploadRejected` (422) naming every refused value."""
        engine = "deepdream" if self.mode == "dream" else self.engine
        if engine not in CHOICES:
            raise UploadRejected(f"unknown engine {engine!r}; choose one of "
                                 f"{', '.join(CHOICES)}")
        given = {k: v for k, v in self.extra.items() if v.strip()}   # blank: the default
        try:
            options = parse_options(dict(engine=engine, alpha=self.alpha,
                                         style_weights=self.style_weights,
                                         preserve_color=self.preserve_color, size=self.size,
                                         iterations=self.iterations, **given),
                                    max_megapixels=settings.max_image_megapixels)
        except StyleTransferError as exc:
            raise UploadRejected(str(exc)) from None
        if not MIN_SIZE <= options.max_side <= settings.max_output_side:
            raise UploadRejected(f"output size must be between {MIN_SIZE} and "
                                 f"{settings.max_output_side} pixels, not {options.max_side}")
        if self.visibility not in VISIBILITIES:
            raise UploadRejected("visibility must be public or unlisted")
        return options


def submitted_form(content: Annotated[UploadFile | str | None, File()] = None,
                   style: Annotated[list[UploadFile | str] | None, File()] = None,
                   engine: Annotated[str, Form()] = "auto",
                   alpha: Annotated[float, Form()] = 1.0,
                   style_weights: Annotated[str, Form()] = "",
                   preserve_color: Annotated[bool, Form()] = False,
                   size: Annotated[int, Form()] = 512,
                   iterations: Annotated[int, Form()] = 300,
                   visibility: Annotated[str, Form()] = "public",
                   style_from: Annotated[str, Form()] = "",
                   mode: Annotated[str, Form(description="style (transfer) or dream; dream "
                                                          "means engine=deepdream")] = "style",
                   depth: Annotated[str, Form(description="Deep Dream: textures, patterns, "
                                                           "shapes or objects")] = "",
                   octaves: Annotated[str, Form(description="Deep Dream: scales")] = "",
                   dream_iterations: Annotated[str, Form(description="Deep Dream: steps per "
                                                                     "octave")] = "",
                   strength: Annotated[str, Form(description="Deep Dream: intensity")] = "",
                   network: Annotated[str, Form(description="Deep Dream: network")] = "",
                   seed: Annotated[str, Form(description="random seed")] = "",
                   trim_start: Annotated[str, Form(description="clips: start, seconds")] = "",
                   trim_end: Annotated[str, Form(description="clips: end, seconds")] = "",
                   ) -> SubmittedForm:
    """The multipart fields of a create request (``content`` plus one or more ``style``;
    none is needed for Deep Dream, where one is the guide)."""
    extra = dict(depth=depth, octaves=octaves, dream_iterations=dream_iterations,
                 strength=strength, network=network, seed=seed, trim_start=trim_start,
                 trim_end=trim_end)
    return SubmittedForm(content, style or [], engine, alpha, style_weights, preserve_color,
                         size, iterations, visibility, style_from or None, mode, extra)


FormDep = Annotated[SubmittedForm, Depends(submitted_form)]


def installed_engine(name: str, weights: WeightStore) -> EngineSpec:
    """The engine ``name`` resolves to, refusing one this server has no weights for."""
    spec = resolve_engine(name, weights)
    if not weights.engine_ready(spec):
        raise EngineNotInstalled(spec)
    return spec


def _chosen(files: list[UploadFile | str]) -> list[UploadFile]:
    # A browser sends a file input left empty as a part with no filename, which arrives as "".
    return [f for f in files if not isinstance(f, str) and (f.filename or f.size)]


async def create_job(session: Session, store: MediaStore, settings: Settings,
                     weights: WeightStore, owner_id: str, form: SubmittedForm) -> Job:
    """Validate everything, store the files, queue the job. Raises ``StyleTransferError``."""
    options = form.options(settings)
    spec = installed_engine(options.engine, weights)
    chosen = _chosen([form.content]) if form.content is not None else []
    if not chosen:
        raise UploadRejected("choose a content image or video")
    content = chosen[0]
    styles = _chosen(form.styles)
    if len(styles) > MAX_STYLES:
        raise UploadRejected(f"use at most {MAX_STYLES} style images")
    raws = [(store.temp_path_for(store.new_path("uploads", ".part")), "content",
             "the content file")]
    raws += [(store.temp_path_for(store.new_path("uploads", ".part")), "style",
              style_label(i, len(styles))) for i in range(len(styles))]
    try:
        for (path, _, what), upload in zip(raws, [content, *styles]):
            await save_raw(upload, path, settings, what)
        # Checking, fsync and SQLite may block for a while: never on the event loop, where a
        # wait for a pooled connection would also stall the requests that return them.
        return await run_in_threadpool(store_and_enqueue, session, store, settings, owner_id,
                                       options, spec, form, raws)
    finally:
        for path, _, _ in raws:
            path.unlink(missing_ok=True)


def store_and_enqueue(session: Session, store: MediaStore, settings: Settings, owner_id: str,
                      options: StyleOptions, spec: EngineSpec, form: SubmittedForm,
                      raws: list) -> Job:
    """The blocking half of :func:`create_job`: the reused style, the disk floor, the files
    (checked in a child process and fsynced), then the job row."""
    reused = [] if len(raws) > 1 else _reused_styles(session, form.style_from)
    count = len(raws) - 1 + len(reused)
    if spec.needs_style and count == 0:
        raise UploadRejected("choose at least one style image")
    if spec.mode == "dream" and count > 1:
        raise UploadRejected(f"{spec.label} takes at most one guide image, not {count}")
    if options.style_weights is not None and len(options.style_weights) != count:
        raise UploadRejected(f"{len(options.style_weights)} style weights given for {count} "
                             "style images; give one per style or none")
    check_free_disk(store, settings)
    stored: list[StoredUpload] = []
    try:
        stored = store_uploads(store, settings, raws, options.max_side,
                               (options.trim_start, options.trim_end))
        if stored[0].kind == "video" and not spec.takes_video:
            raise UploadRejected(video_refusal(spec))
        stored += [copy_stored(store, rel) for rel in reused]
        return enqueue_job(session, owner_id=owner_id, kind=stored[0].kind, engine=spec.name,
                           options={**options.stored(), "engine": spec.name},
                           content_path=stored[0].rel, style_paths=[s.rel for s in stored[1:]],
                           visibility=form.visibility)
    except BaseException:
        store.remove([s.rel for s in stored])
        raise


def _reused_styles(session: Session, style_from: str | None) -> list[str]:
    """Style files of an earlier finished job ("use this style again")."""
    if not style_from:
        return []
    job = get_job(session, style_from)
    if job is None or job.state != JobState.SUCCEEDED:
        raise UploadRejected("the result whose style you wanted to reuse is gone", 404)
    return list(job.style_paths)
