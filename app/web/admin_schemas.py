"""What the admin page and its JSON endpoints show: each engine, each of its weight files
(state, where, size, download progress), the outcome of an import, and the workers."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel

from app.engine.registry import listed_engines
from app.engine.spec import EngineSpec
from app.engine.weights.downloads import ImportReport
from app.engine.weights.store import WeightState, WeightStore
from app.jobs.leases import WorkerStatus
from app.web.services.admin_downloads import DownloadState, FileProgress

SOURCE_LABELS = {"folder": "weights folder", "cache": "cache", "bundled": "bundled with dreamgen"}


class DownloadOut(BaseModel):
    """A file's download through the page: ``total`` None while the size is unknown."""

    state: DownloadState
    received: int
    total: int | None
    message: str


class WeightFileOut(BaseModel):
    """One weight file of an engine: ``path`` and ``source`` say where the copy is found;
    ``optional``: the engine runs without it (and uses it when it is there)."""

    name: str
    optional: bool
    state: Literal["verified", "missing", "corrupt"]
    source: str | None
    path: str | None
    size: int | None
    download: DownloadOut | None


class EngineWeightsOut(BaseModel):
    """An engine and its weight files (``ready``: every needed file verified; ``complete``:
    the optional ones too)."""

    name: str
    label: str
    technical: str
    ready: bool
    complete: bool
    detail: str
    files: list[WeightFileOut]


class SearchDirOut(BaseModel):
    source: str
    path: str


class AdminOverview(BaseModel):
    """Everything the admin page shows; ``downloading`` while any download runs."""

    engines: list[EngineWeightsOut]
    search_dirs: list[SearchDirOut]
    offline: bool
    mirror: str
    downloading: bool


class DownloadRequest(BaseModel):
    engine: str


class DownloadStarted(BaseModel):
    """The files whose download started (in this order, one after another)."""

    engine: str
    started: list[str]


class ImportRequest(BaseModel):
    folder: str


class CopiedOut(BaseModel):
    source: str
    target: str


class ImportOut(BaseModel):
    """What an import did: files copied, files already there, files not recognised."""

    folder: str
    imported: list[CopiedOut]
    already_present: list[CopiedOut]
    skipped: list[str]


def _size(found: WeightState) -> int | None:
    try:
        return found.path.stat().st_size if found.path is not None else found.file.size
    except OSError:
        return found.file.size


def _download_out(progress: FileProgress | None) -> DownloadOut | None:
    if progress is None:
        return None
    return DownloadOut(state=progress.state, received=progress.received,
                       total=progress.total, message=progress.message)


def file_out(found: WeightState, progress: FileProgress | None,
             optional: bool = False) -> WeightFileOut:
    """The page's view of one located file and its download, if any."""
    return WeightFileOut(name=found.file.name, optional=optional, state=found.state,
                         source=SOURCE_LABELS.get(found.source or "", None),
                         path=str(found.path) if found.path else None, size=_size(found),
                         download=_download_out(progress))


def engine_out(spec: EngineSpec, store: WeightStore,
               downloads: dict[str, FileProgress]) -> EngineWeightsOut:
    """An engine's readiness and files, as the store finds them now."""
    status = store.engine_status(spec)
    names = [(name, False) for name in spec.weights] + \
        [(name, True) for name in spec.optional_weights if name not in spec.weights]
    files = [file_out(store.locate(store.pinned(name)), downloads.get(name), optional)
             for name, optional in names]
    return EngineWeightsOut(name=spec.name, label=spec.label, technical=spec.technical,
                            ready=status.ready, complete=all(f.state == "verified" for f in files),
                            detail=status.detail, files=files)


def without_password(url: str) -> str:
    """``url`` with any user name and password left out (a mirror URL may carry them)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def overview(store: WeightStore, downloads: dict[str, FileProgress]) -> AdminOverview:
    """Every engine with its files, the folders searched, and whether downloads run."""
    return AdminOverview(
        engines=[engine_out(spec, store, downloads) for spec in listed_engines()],
        search_dirs=[SearchDirOut(source=SOURCE_LABELS[s], path=str(p))
                     for s, p in store.search_dirs()],
        offline=store.offline, mirror=without_password(store.mirror),
        downloading=any(p.active for p in downloads.values()))


def import_out(folder: Path, report: ImportReport) -> ImportOut:
    """The JSON view of an :class:`~app.engine.weights.downloads.ImportReport`."""
    def copied(pairs: list[tuple[Path, Path]]) -> list[CopiedOut]:
        return [CopiedOut(source=str(s), target=str(t)) for s, t in pairs]

    return ImportOut(folder=str(folder), imported=copied(report.imported),
                     already_present=copied(report.already_present),
                     skipped=[str(p) for p in report.skipped])


class WorkerOut(BaseModel):
    """One worker row: ``alive`` while its heartbeat is younger than the lease; ``job`` is the
    public id of the job it runs."""

    id: str
    host: str
    pid: int
    device: str
    job: str | None
    heartbeat_age_s: float
    alive: bool


class WorkersOverview(BaseModel):
    """Every worker sharing this database, and the lease that decides alive or stale."""

    lease_seconds: float
    workers: list[WorkerOut]


def workers_out(statuses: list[WorkerStatus], lease_seconds: float) -> WorkersOverview:
    """The page's view of :func:`app.jobs.leases.list_workers`."""
    return WorkersOverview(lease_seconds=lease_seconds, workers=[
        WorkerOut(id=w.id, host=w.host, pid=w.pid, device=w.device, job=w.job_public_id,
                  heartbeat_age_s=round(w.heartbeat_age_s, 1), alive=w.alive)
        for w in statuses])
