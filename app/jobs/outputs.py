"""A run's files: where the engine child writes them, which a worker keeps, which it removes.

Every run of a job (every claim) writes to fresh paths, its preview included, so a worker
that lost the job and has not stopped yet writes only into files of its own: it removes
them when it gives up the run (:func:`discard`), and the next run's first preview replaces
the previous run's (:class:`PreviewKeeper`).
"""

from __future__ import annotations

from app.db.models import Job
from app.jobs.execute import OutputPaths
from app.storage import MediaStore


def output_paths(store: MediaStore, job: Job) -> OutputPaths:
    """Fresh paths for a job's result, thumbnail and preview; a clip also gets a poster.
    Fresh for every run, the preview too: a worker that lost the job and has not stopped
    yet writes only into files of its own, which it removes (or the next run replaces)."""
    if job.kind == "train":        # a model, and the picture it painted last as its poster
        return OutputPaths(result=store.new_path("models", ".safetensors"),
                           thumb=store.new_path("thumbs", ".jpg"),
                           preview=store.new_path("previews", ".jpg"),
                           poster=store.new_path("thumbs", ".jpg"))
    suffix = ".mp4" if job.kind == "video" else ".png"
    clip = job.kind == "video"
    return OutputPaths(result=store.new_result_path(suffix),
                       thumb=store.new_path("thumbs", ".jpg"),
                       preview=store.new_path("previews", ".jpg"),
                       poster=store.new_path("thumbs", ".jpg") if clip else None,
                       partial=store.new_path("segments", ".mp4") if clip else None,
                       strength=None if clip else store.new_path("results", ".pt"))


class PreviewKeeper:
    """Each run writes its own preview; once the job row names this run's, the previous
    run's preview (which the row named before) is removed."""

    def __init__(self, store: MediaStore, previous: str | None) -> None:
        self.store, self.previous = store, previous
        self.was_recorded = False

    def recorded(self) -> None:
        """The row now names this run's preview."""
        self.was_recorded = True
        self._drop_previous()

    def replaced_by(self, final: str, ours: str) -> None:
        """The finished job names ``final`` (a clip's poster) as its preview."""
        self._drop_previous()
        if self.was_recorded and ours != final:
            self.store.remove([ours])

    def _drop_previous(self) -> None:
        if self.previous:
            self.store.remove([self.previous])
            self.previous = None


def discard(store: MediaStore, outputs: OutputPaths, previews: PreviewKeeper) -> None:
    """Remove what the child may have written for this run, half-written files too. The
    preview and a clip's partial result stay once recorded: the job row may name them
    (:class:`ClipFiles` looks after the partial result and the segments)."""
    made = [p for p in (outputs.result, outputs.thumb, outputs.poster, outputs.strength) if p]
    if not previews.was_recorded:
        made.append(outputs.preview)
    store.remove(made)
    store.remove_temps_for(made + [p for p in (outputs.preview, outputs.partial) if p])


class ClipFiles:
    """A clip job's segment files and partial results, across runs: what the job row names
    (segments committed by earlier runs, and by this one once recorded) and what this run
    made but could not record (another worker holds the job now: removed at once). Once the
    job ends for good, every one of them goes."""

    def __init__(self, store: MediaStore, job: Job) -> None:
        self.store = store
        self.paths = [s["path"] for s in job.segments or [] if s.get("path")]
        self.partial = job.partial_path

    def segment(self, path: str, recorded: bool) -> None:
        """A segment the child committed: kept if the row now names it, else removed."""
        if recorded:
            self.paths.append(path)
        else:
            self.store.remove([path])

    def partial_result(self, path: str, recorded: bool) -> None:
        """A new partial result: it replaces the one the row named before."""
        if not recorded:
            self.store.remove([path])
            return
        if self.partial and self.partial != path:
            self.store.remove([self.partial])
        self.partial = path

    def remove_all(self) -> None:
        """The job ended (succeeded, failed, cancelled): its row names none of them now."""
        self.store.remove([*self.paths, *([self.partial] if self.partial else [])])
        self.paths, self.partial = [], None


class CheckpointFiles:
    """A training job's checkpoint across runs: the one the job row names (committed by an
    earlier run, or by this one once recorded) is kept and each newer one replaces it; one
    this run could not record (another worker holds the job now) is removed at once. Once
    the job ends for good, it goes too."""

    def __init__(self, store: MediaStore, job: Job) -> None:
        self.store, self.current = store, job.checkpoint_path

    def committed(self, path: str, recorded: bool) -> None:
        """A checkpoint the child wrote: the row names it now, or it is removed."""
        if not recorded:
            self.store.remove([path])
            return
        if self.current and self.current != path:
            self.store.remove([self.current])
        self.current = path

    def remove_all(self) -> None:
        """The job ended: its row names no checkpoint now."""
        if self.current:
            self.store.remove([self.current])
            self.current = None
