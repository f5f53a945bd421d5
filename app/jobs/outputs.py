"""A run's files: where the engine child writes them, which a worker keeps, which it removes.

Every run of a job (every claim) writes to fresh paths, its preview included, so a worker
that lost the job and has not stopped yet writes only into files of its own: it removes
them when it gives up the run (:func:`discard`), and the next run's first preview replaces
the previous run's (:class:`PreviewKeeper`).
"""

from __future__ import annotations

from app.jobs.execute import OutputPaths
from app.jobs.models import Job
from app.storage import MediaStore


def output_paths(store: MediaStore, job: Job) -> OutputPaths:
    """Fresh paths for a job's result, thumbnail and preview; a clip also gets a poster.
    Fresh for every run, the preview too: a worker that lost the job and has not stopped
    yet writes only into files of its own, which it removes (or the next run replaces)."""
    suffix = ".mp4" if job.kind == "video" else ".png"
    return OutputPaths(result=store.new_result_path(suffix),
                       thumb=store.new_path("thumbs", ".jpg"),
                       preview=store.new_path("previews", ".jpg"),
                       poster=store.new_path("thumbs", ".jpg") if job.kind == "video" else None)


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
    preview stays once it was recorded: the job row may name it."""
    made = [p for p in (outputs.result, outputs.thumb, outputs.poster) if p]
    if not previews.was_recorded:
        made.append(outputs.preview)
    store.remove(made)
    store.remove_temps_for(made + [outputs.preview])
