"""Model weights: the pinned files, and a store that finds verified copies.

Every checkpoint an engine loads is a :class:`~app.engine.spec.WeightFile` its home pins
(:data:`app.engine.registry.WEIGHT_FILES` collects them), named by a relative path
("<folder>/<file>"). A :class:`WeightStore` (built from the settings it is given) looks for a
copy whose SHA-256 matches, in order: the weights folder (``DREAMGEN_WEIGHTS_DIR``), the cache
(``DREAMGEN_WEIGHTS_CACHE_DIR``, where downloads and imports go), then the weights shipped
inside the package (``app/engine/weights/bundled``: MicroAST and the pruned VGG-19, MIT-licensed),
either nested (``<dir>/<folder>/<file>``) or flat (``<dir>/<file>``). Hashes are
remembered per (path, inode, size, mtime), so checking an engine before every job costs a
``stat`` per file.
Downloads and imports are in :mod:`app.engine.weights.downloads`. Nothing here imports torch.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Literal

from app.engine.errors import StyleTransferError, WeightsMissingError
from app.engine.registry import ENGINES, WEIGHT_FILES, get_engine, listed_engines
from app.engine.spec import EngineSpec, WeightFile
from app.engine.types import EngineStatus
from app.storage import sha256_file

if TYPE_CHECKING:
    from app.settings import Settings

CHUNK_BYTES = 1 << 20


REGISTRY: dict[str, WeightFile] = {f.name: f for f in WEIGHT_FILES}


def bundled_dir() -> Path:
    """The folder of weights shipped inside the package (read through importlib.resources)."""
    return Path(str(resources.files("app.engine.weights") / "bundled"))


def get_weight_file(name: str) -> WeightFile:
    """The pinned entry called ``name`` (a relative path, ``"<folder>/<file>"``)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise StyleTransferError(f"unknown weight file {name!r}; known: "
                                 f"{', '.join(REGISTRY)}") from None


def files_for(targets: Iterable[str]) -> list[WeightFile]:
    """Registry entries for engine names and/or file names, in registry order, no repeats.
    An engine stands for the files it needs and those it can use (``optional_weights``).
    No targets means every file."""
    targets = list(targets)
    if not targets:
        return list(WEIGHT_FILES)
    wanted: set[str] = set()
    for target in targets:
        if target in REGISTRY:
            wanted.add(target)
            continue
        try:
            spec = get_engine(target)
        except StyleTransferError:
            raise StyleTransferError(
                f"{target!r} is neither an engine ({', '.join(s.name for s in ENGINES)}) "
                "nor a weight file (see `dreamgen weights status`)") from None
        wanted.update(spec.weights + spec.optional_weights)
    return [f for f in WEIGHT_FILES if f.name in wanted]


# ----------------------------------------------------------------------------- hashing
_HASHES: dict[tuple[str, int, int, int], str] = {}
_HASHES_LOCK = threading.Lock()


def file_sha256(path: Path) -> str:
    """SHA-256 of ``path``, remembered while its inode, size and mtime stay the same."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    with _HASHES_LOCK:
        known = _HASHES.get(key)
    if known is not None:
        return known
    digest = sha256_file(path)
    with _HASHES_LOCK:
        _HASHES[key] = digest
    return digest


def clear_hash_cache() -> None:
    """Forget remembered hashes (tests)."""
    with _HASHES_LOCK:
        _HASHES.clear()


def is_intact(path: Path, file: WeightFile) -> bool:
    """Whether ``path`` has ``file``'s size (when known) and SHA-256."""
    try:
        if file.size is not None and path.stat().st_size != file.size:
            return False
        return file_sha256(path) == file.sha256
    except OSError:
        return False


# ----------------------------------------------------------------------------- the store
def studio_folders(settings: "Settings") -> tuple[Path, ...]:
    """The folders of the studio's own files: data, media, and the SQLite database's."""
    folders = [Path(settings.data_dir), Path(settings.media_dir or settings.data_dir)]
    database = re.match(r"sqlite(\+\w+)?:///([^?]+)", settings.database_url)
    if database and database.group(2) != ":memory:":
        folders.append(Path(database.group(2)).parent)
    return tuple(folder.expanduser().absolute() for folder in folders)


Source = Literal["folder", "cache", "bundled"]


@dataclass(frozen=True)
class WeightState:
    """Where a registry file stands: ``verified`` (path is the good copy), ``corrupt`` (path
    is a copy with the wrong hash) or ``missing`` (path is None); ``source`` says which
    search folder the path is in."""

    file: WeightFile
    state: Literal["verified", "corrupt", "missing"]
    path: Path | None
    source: Source | None = None


@dataclass(frozen=True)
class WeightStore:
    """Where this installation keeps weights, and whether it may download them.

    Built from the :class:`~app.settings.Settings` it is given (:meth:`from_settings`); never
    reads global settings, so a test, a worker process and the CLI each pass their own.
    ``pins`` are the files it trusts (the registry's; a test may trust generated checkpoints
    instead, and the pins travel with the store into the engine processes). ``protected``
    are the folders of the studio's own files (data, media, database), which an import
    never reads (:mod:`app.engine.weights.import_checks`).
    """

    cache_dir: Path
    weights_dir: Path | None = None
    offline: bool = False
    mirror: str = ""
    use_bundled: bool = True
    pins: tuple[WeightFile, ...] = WEIGHT_FILES
    protected: tuple[Path, ...] = ()

    def pinned(self, name: str) -> WeightFile:
        """The pinned entry called ``name``."""
        for file in self.pins:
            if file.name == name:
                return file
        return get_weight_file(name)     # raises, naming the known files

    @classmethod
    def from_settings(cls, settings: "Settings") -> "WeightStore":
        return cls(cache_dir=Path(settings.weights_cache_dir).expanduser(),
                   weights_dir=Path(settings.weights_dir).expanduser()
                   if settings.weights_dir else None,
                   offline=settings.offline, mirror=settings.weights_mirror,
                   protected=studio_folders(settings))

    def search_dirs(self) -> list[tuple[Source, Path]]:
        """The folders searched, in order: weights folder, cache, bundled weights."""
        dirs: list[tuple[Source, Path]] = []
        for source, folder in (("folder", self.weights_dir), ("cache", self.cache_dir),
                               ("bundled", bundled_dir() if self.use_bundled else None)):
            if folder is not None and all(folder != known for _, known in dirs):
                dirs.append((source, folder))  # type: ignore[arg-type]
        return dirs

    def _candidates(self, file: WeightFile) -> Iterator[tuple[Source, Path]]:
        for source, folder in self.search_dirs():
            if source == "bundled" and not file.bundled:
                continue
            for path in (folder / file.name, folder / file.basename):
                if path.is_file():
                    yield source, path

    def locate(self, file: WeightFile) -> WeightState:
        """The first copy of ``file`` whose hash matches (or the first bad copy)."""
        corrupt: tuple[Source, Path] | None = None
        for source, path in self._candidates(file):
            if is_intact(path, file):
                return WeightState(file, "verified", path, source)
            corrupt = corrupt or (source, path)
        if corrupt:
            return WeightState(file, "corrupt", corrupt[1], corrupt[0])
        return WeightState(file, "missing", None)

    def resolve(self, name: str) -> Path:
        """Path of a verified copy of the registry file ``name``; raises
        :class:`~app.engine.errors.WeightsMissingError` naming the file."""
        found = self.locate(self.pinned(name))
        if found.state == "verified" and found.path is not None:
            return found.path
        if found.state == "corrupt":
            raise WeightsMissingError(f"Weight file {name} at {found.path} is corrupt (SHA-256 "
                                      "mismatch); delete it.")
        looked = ", ".join(str(d) for _, d in self.search_dirs())
        raise WeightsMissingError(f"Weight file {name} is missing (looked in {looked}).")

    def report(self) -> list[WeightState]:
        """Every registry file with its state, in registry order."""
        return [self.locate(file) for file in self.pins]

    def engine_paths(self, spec: EngineSpec | str) -> dict[str, Path]:
        """A verified path for each weight file the engine loads, plus each optional one that
        is verified here (missing or corrupt optional files are left out); raises
        :class:`~app.engine.errors.WeightsMissingError` for the first missing or corrupt
        needed one."""
        spec = get_engine(spec) if isinstance(spec, str) else spec
        paths = {name: self.resolve(name) for name in spec.weights}
        for name in spec.optional_weights:
            found = self.locate(self.pinned(name))
            if found.state == "verified" and found.path is not None:
                paths[name] = found.path
        return paths

    def engine_status(self, spec: EngineSpec | str) -> EngineStatus:
        """Whether ``spec`` can run here, with where its weights are or what is missing."""
        spec = get_engine(spec) if isinstance(spec, str) else spec
        states = [self.locate(self.pinned(name)) for name in spec.weights]
        bad = [s for s in states if s.state != "verified"]
        if bad:
            detail = "; ".join(f"{s.state} {s.file.name}" for s in bad)
            return EngineStatus(spec.name, spec.label, False, detail,
                                tuple(s.file.name for s in bad))
        where = sorted({"bundled with dreamgen" if s.source == "bundled" else str(s.path.parent)
                        for s in states if s.path is not None})
        return EngineStatus(spec.name, spec.label, True, f"weights verified ({', '.join(where)})")

    def engine_ready(self, spec: EngineSpec | str) -> bool:
        return self.engine_status(spec).ready

    def statuses(self) -> list[EngineStatus]:
        """One status per listed engine, in registry order (cheap: no file is loaded)."""
        return [self.engine_status(spec) for spec in listed_engines()]
