"""Running one job's engine work: what the worker's child process does.

:func:`execute_job` loads a job's images, runs the engine or the video pipeline (or, for a
training job, the training: :mod:`app.jobs.train_job`), and writes the result, its
thumbnail (and a clip's poster) to the paths the worker chose, reporting progress
through a callback. It never touches the database: the worker thread in the parent records
what it reports (:mod:`app.jobs.runner`). :func:`serve_jobs` is the child's main loop.

Everything a job needs arrives in its :class:`JobSpec` (paths, options, limits, the weights
store), because the child is forked from the fork server and shares nothing else.
"""

from __future__ import annotations

import io
import logging
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Heavy imports at the top on purpose: the fork server preloads this module, so every job
# child starts with torch, OpenCV and PyAV already imported.
import torch  # noqa: F401
from PIL import Image

from app.engine.dispatch import make_frame_stylizer, stylize_image
from app.engine.errors import Cancelled, StyleTransferError
from app.engine.images import load_image
from app.engine.options import StyleOptions, parse_options
from app.engine.strength_preview import save_state, stylize_keeping_state
from app.engine.types import CancelToken, Progress
from app.engine.weights.store import WeightStore
from app.jobs.messages import (
    Answer,
    JobCancelled,
    JobDone,
    JobErrored,
    JobFailed,
    JobResult,
    PieceMade,
    PiecesPlanned,
    ProgressReport,
    Send,
)
from app.jobs.derived_inputs import derived_inputs
from app.jobs.thumbnails import jpeg_bytes, write_preview, write_thumbnail
from app.jobs.train_job import TrainingInputs, run_training
from app.storage import MediaStore
from app.video.probe import VideoLimits

log = logging.getLogger("dreamgen.worker")

PROGRESS_INTERVAL_S = 0.25      # at most 4 progress messages a second


@dataclass(frozen=True)
class OutputPaths:
    """Where the job's files go (relative to the media folder), chosen by the worker so it
    can remove them whatever happens to the child."""

    result: str
    thumb: str
    preview: str
    poster: str | None = None
    partial: str | None = None      # a clip's playable partial result while it runs
    strength: str | None = None     # a picture's strength-preview state (fast engines)

    def all(self) -> list[str]:
        return [p for p in (self.result, self.thumb, self.preview, self.poster, self.partial,
                            self.strength) if p]


@dataclass(frozen=True)
class JobSpec:
    """Everything a child needs to run one job."""

    job_id: int
    public_id: str
    kind: str                      # "image", "video" or "train"
    options: dict[str, Any]        # the stored user options, engine resolved
    content_path: str
    style_paths: tuple[str, ...]
    outputs: OutputPaths
    media_root: str
    device: str
    weights: WeightStore
    max_megapixels: float
    video_limits: VideoLimits
    segments: tuple[dict[str, Any], ...] = ()   # a clip's segments committed by earlier runs
    segment_seconds: float = 8.0        # DREAMGEN_VIDEO_SEGMENT_SECONDS
    plan_pieces: bool = False           # a clip: only cut it into pieces (PiecesPlanned)
    piece: dict[str, Any] | None = None  # a clip: make only this piece (PieceMade)
    mask_path: str | None = None        # the brushed mask (white: where the style goes)
    derivation: str | None = None       # "enhance" or "deeper": made from another job
    start_path: str | None = None       # an Enhance of a painterly result starts from it
    model_path: str | None = None       # the job's own copy of a trained model
    max_model_mb: float = 64.0          # DREAMGEN_MAX_MODEL_MB
    training: TrainingInputs | None = None      # a training job's inputs


class RemainingTime:
    """Seconds an engine still needs, from its pace since its first report: the setup before
    it (loading networks, encoding styles) does not count, so an iterative engine has an
    estimate from its second iteration on."""

    MIN_SPAN_S = 0.5     # a pace measured over less than this is noise

    def __init__(self) -> None:
        self._first: tuple[float, float] | None = None

    def update(self, fraction: float, now: float) -> float | None:
        if self._first is None:
            self._first = (fraction, now)
            return None
        first_fraction, first_at = self._first
        done, span = fraction - first_fraction, now - first_at
        if done <= 0 or span < self.MIN_SPAN_S:
            return None
        return max(0.0, 1.0 - fraction) * span / done


class ProgressThrottle:
    """Turns the engines' :class:`Progress` reports into at most 4 messages a second, with
    the time left (the engine's own ``eta_s`` extra when it gives one, as the video pipeline
    does; else :class:`RemainingTime`); previews are written as small JPEGs to the job's
    preview path."""

    def __init__(self, store: MediaStore, preview_path: str,
                 send: Send) -> None:
        self.store, self.preview_path, self.send = store, preview_path, send
        self._sent_at = 0.0
        self._remaining = RemainingTime()

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        paced = self._remaining.update(progress.fraction, now)
        if progress.preview is None and progress.fraction < 1.0 and \
                now - self._sent_at < PROGRESS_INTERVAL_S:
            return
        self._sent_at = now
        wrote = False
        if progress.preview is not None:
            write_preview(self.store, progress.preview, self.preview_path)
            wrote = True
        eta = progress.extras.get("eta_s", paced)
        self.send(ProgressReport(progress.fraction * 0.98, progress.message, wrote, eta))


def execute_job(spec: JobSpec, send: Send, cancel: CancelToken
                ) -> JobResult | PiecesPlanned | PieceMade:
    """Run ``spec``'s engine work; raises :class:`StyleTransferError` (shown to the user),
    :class:`Cancelled`, or anything else (an internal error). ``send`` gets its progress,
    and a clip's committed segments and partial results."""
    store = MediaStore(Path(spec.media_root))
    report = ProgressThrottle(store, spec.outputs.preview, send)
    if spec.training is not None:
        return run_training(spec.training, spec.outputs.result, spec.outputs.thumb,
                            spec.outputs.poster or spec.outputs.preview, store, spec.device,
                            spec.weights, send, report, cancel)
    model = str(store.path(spec.model_path)) if spec.model_path else None
    options = parse_options(spec.options, device=spec.device,
                            max_megapixels=spec.max_megapixels, model_path=model,
                            max_model_mb=spec.max_model_mb)
    styles = [load_image(store.path(rel), "the style image" if len(spec.style_paths) == 1
                         else f"style image {i + 1}", spec.max_megapixels)
              for i, rel in enumerate(spec.style_paths)]
    if spec.kind == "video" and spec.plan_pieces:
        return _plan_pieces(spec, store, options)
    if spec.kind == "video" and spec.piece is not None:
        return _run_piece(spec, store, styles, options, report, cancel, send)
    if spec.kind == "video":
        return _run_video(spec, store, styles, options, report, cancel,
                          send)
    return _run_image(spec, store, styles, options, report, cancel)


def _run_image(spec: JobSpec, store: MediaStore, styles: list[Image.Image],
               options: StyleOptions, report: ProgressThrottle,
               cancel: CancelToken) -> JobResult:
    content = load_image(store.path(spec.content_path), "the content image",
                         spec.max_megapixels)
    inputs = derived_inputs(store, content, options, spec.options, spec.max_megapixels,
                            spec.mask_path, spec.derivation, spec.start_path)
    if inputs.plain:
        # the fast engines also hand back what a strength preview re-renders from
        result, state = stylize_keeping_state(content, styles, options, spec.weights,
                                              on_progress=report, cancel=cancel)
    else:
        result, state = stylize_image(inputs.content, styles, inputs.options, spec.weights,
                                      report, cancel, mask=inputs.mask,
                                      start=inputs.start), None
    clean = Image.new("RGB", result.size)   # no metadata of any kind in the PNG
    clean.paste(result.convert("RGB"))
    buffer = io.BytesIO()
    clean.save(buffer, "PNG", optimize=False)
    strength = spec.outputs.strength if state is not None else None
    if strength is not None:
        store.write_atomic(strength, lambda temp: save_state(state, temp))
    store.write_atomic(spec.outputs.result, buffer.getvalue())
    write_thumbnail(store, clean, spec.outputs.thumb)
    return JobResult(spec.outputs.result, spec.outputs.thumb, clean.width, clean.height,
                     strength_path=strength)


def _run_video(spec: JobSpec, store: MediaStore, styles: list[Image.Image],
               options: StyleOptions, report: ProgressThrottle, cancel: CancelToken,
               send: Send) -> JobResult:
    from app.jobs.clip_segments import JobSegments
    from app.video.decoding import extract_poster
    from app.video.pipeline import stylize_video
    from app.video.segments import SegmentFile

    dst = store.path(spec.outputs.result)
    dst.parent.mkdir(parents=True, exist_ok=True)
    source = store.path(spec.content_path)
    trim = (options.trim_start, options.trim_end)
    sink = JobSegments(store, [SegmentFile.from_json(s) for s in spec.segments], send,
                       spec.outputs.partial, source, (trim[0] or 0.0, trim[1]))
    if sink.done():
        log.info("job %s: resuming after %d committed segment(s), at frame %d",
                 spec.public_id, len(sink.done()), sink.done()[-1].next_frame)
    stylizer = make_frame_stylizer(styles, options, spec.weights)
    timings: dict[str, float] = {}
    info = stylize_video(source, dst, stylizer, options.max_side, spec.video_limits,
                         on_progress=report, cancel=cancel, trim=trim, sink=sink,
                         timings=timings, segment_seconds=spec.segment_seconds)
    log.info("job %s: stylised %d frame(s) in this run, %d from scratch (a shot's first "
             "frame)", spec.public_id, int(timings.get("frames", 0)),
             int(timings.get("fresh", 0)))
    sink.remove_files()
    poster = extract_poster(dst)
    poster_rel = spec.outputs.poster or spec.outputs.preview
    store.write_atomic(poster_rel, jpeg_bytes(poster, quality=90))
    write_thumbnail(store, poster, spec.outputs.thumb)
    report.send(ProgressReport(0.99, "finishing"))
    return JobResult(spec.outputs.result, spec.outputs.thumb, info.width, info.height,
                     preview_path=poster_rel)


def _plan_pieces(spec: JobSpec, store: MediaStore, options: StyleOptions) -> PiecesPlanned:
    from dataclasses import asdict

    from app.video.pieces import plan_pieces

    pieces = plan_pieces(store.path(spec.content_path), options.max_side, spec.video_limits,
                         (options.trim_start, options.trim_end), spec.segment_seconds)
    return PiecesPlanned([asdict(p) for p in pieces])


def _run_piece(spec: JobSpec, store: MediaStore, styles: list[Image.Image],
               options: StyleOptions, report: ProgressThrottle, cancel: CancelToken,
               send: Send) -> PieceMade:
    """One piece of a clip, into one segment file the worker records (or removes)."""
    from app.jobs.clip_segments import JobSegments
    from app.video.pieces import stylize_piece
    from app.video.stages import Piece

    assert spec.piece is not None
    piece = Piece(**spec.piece)
    source = store.path(spec.content_path)
    trim = (options.trim_start, options.trim_end)
    sink = JobSegments(store, [], send, None, source, (trim[0] or 0.0, trim[1]))
    stylizer = make_frame_stylizer(styles, options, spec.weights)
    timings: dict[str, float] = {}
    segment = stylize_piece(source, stylizer, options.max_side, spec.video_limits, piece,
                            sink, trim, on_progress=report, cancel=cancel, timings=timings)
    log.info("job %s: part %d stylised, %d frame(s) from frame %d", spec.public_id,
             piece.number + 1, segment.frames, segment.first_frame)
    return PieceMade(segment.to_json())


# ----------------------------------------------------------------------------- the child
def serve_jobs(conn: Any, cancel: Any) -> None:
    """The engine child's main loop: take a :class:`JobSpec` from ``conn``, run it, send its
    progress and news on the way (:mod:`app.jobs.messages`) and one answer at the end
    (:class:`~app.jobs.messages.JobDone`, ``JobFailed``, ``JobCancelled`` or
    ``JobErrored``). ``cancel`` is a multiprocessing event the parent sets to stop the
    running job. Ends when the parent closes the pipe (or sends ``None``), and dies with it."""
    from app.isolation import die_with_parent

    die_with_parent()
    _configure_child_logging()
    while True:
        try:
            spec = conn.recv()
        except (EOFError, OSError):
            return
        if spec is None:
            return
        answer: Answer
        try:
            made = execute_job(spec, conn.send, cancel)
            answer = made if isinstance(made, (PiecesPlanned, PieceMade)) else JobDone(made)
        except Cancelled:
            answer = JobCancelled()
        except StyleTransferError as exc:
            answer = JobFailed(str(exc))
        except (BrokenPipeError, EOFError):
            return                       # the parent is gone: nobody to answer
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which logs it
            answer = JobErrored(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        try:
            conn.send(answer)
        except (BrokenPipeError, OSError):
            return


def _configure_child_logging() -> None:
    logger = logging.getLogger("dreamgen")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
