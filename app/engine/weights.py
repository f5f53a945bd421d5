"""Model weights: a registry pinned by SHA-256, and a store that finds verified copies.

Every checkpoint an engine loads is a :class:`WeightFile` below, named by a relative path
("adain/decoder.pth"). A :class:`WeightStore` (built from the settings it is given) looks for a
copy whose SHA-256 matches, in order: the weights folder (``DREAMGEN_WEIGHTS_DIR``), the cache
(``DREAMGEN_WEIGHTS_CACHE_DIR``, where downloads and imports go), then the weights shipped
inside the package (``app/engine/bundled``: MicroAST and the pruned VGG-19, MIT-licensed),
either nested (``<dir>/adain/decoder.pth``) or flat (``<dir>/decoder.pth``). Hashes are
remembered per (path, inode, size, mtime), so checking an engine before every job costs a
``stat`` per file. Which engine needs which file comes from :mod:`app.engine.registry`.
Downloads and imports are in :mod:`app.engine.downloads`. Nothing here imports torch.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Literal

from app.engine.errors import StyleTransferError, WeightsMissingError
from app.engine.registry import ENGINES, EngineSpec, get_engine
from app.engine.types import EngineStatus
from app.storage import sha256_file

if TYPE_CHECKING:
    from app.settings import Settings

CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class WeightFile:
    """One pinned checkpoint. ``size`` None means the size is not known (only the hash is
    checked); ``bundled`` files ship inside the package."""

    name: str
    url: str
    size: int | None
    sha256: str
    bundled: bool = False

    @property
    def basename(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    @property
    def engines(self) -> tuple[str, ...]:
        """Names of the engines that load this file (needed or optional)."""
        return tuple(spec.name for spec in ENGINES
                     if self.name in spec.weights or self.name in spec.optional_weights)


_ADAIN = "https://github.com/naoto0804/pytorch-AdaIN/releases/download/v0.0.0"
_MICROAST = ("https://raw.githubusercontent.com/EndyWon/MicroAST/"
             "d2796c7dbf01dbc29ed35b11675d87fcc640f969/models")
# Assumption: the Collaborative Distillation 16x-pruned encoders NSE.pth are those published in
# trained_models/wct_se_16x_new/ and the decoders NSD.pth those in trained_models/wct_se_16x_new_sd/
# at commit 75c1b81c; the hashes and sizes are those of the team's verified copies.
_CD16X = ("https://raw.githubusercontent.com/MingSun-Tse/Collaborative-Distillation/"
          "75c1b81c1dbea11c96d3fb04e96f207dee16dcbb/trained_models")

_CD16X_FILES = {  # name: (size, sha256)
    "1SE.pth": (10271, "f74755a65164a88e0db8cbb7d99d7078b9fa505df0953fac5123bfc7c84e0ea4"),
    "2SE.pth": (52833, "cb654af6bae77176f8c7721c965483e865b987f2f1612dda1ba0d0b5c3819a61"),
    "3SE.pth": (231124, "269cdd0e2634e3e1e5d3005b9e7eca0f4cc8077653fee1ac8c0cf1cbe9ab8758"),
    "4SE.pth": (1235183, "d2f059cbcd6669556a43aadef58d20c8b280462c18b60a9e7424a14dd271cd6b"),
    "5SE.pth": (3862288, "9417c34d0d8d621bc6af78be745f1b8d30f5f210efa01e50655c60eb3770816b"),
    "1SD.pth": (3220, "05f26ad40044c019da0cf731372d5bd2ee4b477825c7f45508da70b1cd5a95fd"),
    "2SD.pth": (30672, "94dd26f0e69857f79bf284a43a3708aa05c09c2593427c7f6e400ad12ce314e6"),
    "3SD.pth": (142014, "005faba27859435762a8a9386116c00629cd8835a01617d0a71defa577c42174"),
    "4SD.pth": (881308, "902f65e2c6033d803d02df552eb898e5985190a7ae67d155e384826eec6f04cb"),
    "5SD.pth": (3243622, "17fd0f81622f01366eb21cb4d40140ee38cf988ed6eaf266629709c397a8b485"),
}
# torchvision's ImageNet GoogLeNet (Deep Dream's best network). torchvision checks only the
# 8-hex prefix in the file name; the full SHA-256 is the one two independent projects pin for
# this URL (D3M UBC primitives' weight manifest, and a video-highlight project that verifies
# the file), and it starts with that prefix. Not downloaded or re-hashed here (no internet);
# the size is left unknown for the same reason (its state dict is 52.08 MB of tensors).
_GOOGLENET_URL = "https://download.pytorch.org/models/googlenet-1378be20.pth"
_GOOGLENET_SHA256 = "1378be20a8e875cf1568b8a71654e704449655e34711a959a38b04fb34905cef"
_MICROAST_FILES = {  # part: (size, sha256)
    "content_encoder": (634983, "c8d895c0eec52507c157e102fab217c37f0c399ef3e168ef8b0b2677714660a4"),
    "style_encoder": (634983, "94f6b3fa386828692c20809a0af8bd0eba9c04e90a7d8842086976e4d223c5af"),
    "modulator": (12158, "8588055baf7d5ad8398d595d5518c6f030e3ff8dbb6007a7c1779776e11da28b"),
    "decoder": (619135, "32e04a46b953fd9f94ec9e20f351511305a5260e000c18f9aef6570d5f1e23d9"),
}

WEIGHT_FILES: tuple[WeightFile, ...] = (
    WeightFile("adain/vgg_normalised.pth", f"{_ADAIN}/vgg_normalised.pth", None,
               "804ca2835ecf7539f0cd2a7ac3c18ce81e6f8468969ae7117ac0c148d286bb4a"),
    WeightFile("adain/decoder.pth", f"{_ADAIN}/decoder.pth", None,
               "379ca41d59f3a37eed3599bbbc2560c19da5c458870a5ffd3a9dd41aa88f9472"),
    *(WeightFile(f"microast/{part}_iter_160000.pth.tar",
                 f"{_MICROAST}/{part}_iter_160000.pth.tar", size, digest, bundled=True)
      for part, (size, digest) in _MICROAST_FILES.items()),
    *(WeightFile(f"cd16x_wct/{base}",
                 f"{_CD16X}/wct_se_16x_new{'' if 'SE' in base else '_sd'}/{base}", size, digest,
                 bundled=base == "5SE.pth")
      for base, (size, digest) in _CD16X_FILES.items()),
    WeightFile("googlenet/googlenet-1378be20.pth", _GOOGLENET_URL, None, _GOOGLENET_SHA256),
)
REGISTRY: dict[str, WeightFile] = {f.name: f for f in WEIGHT_FILES}


def bundled_dir() -> Path:
    """The folder of weights shipped inside the package (read through importlib.resources)."""
    return Path(str(resources.files("app.engine") / "bundled"))


def get_weight_file(name: str) -> WeightFile:
    """The registry entry called ``name`` (e.g. ``"adain/decoder.pth"``)."""
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
    never reads (:mod:`app.engine.import_checks`).
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
        """One status per registered engine, in registry order (cheap: no file is loaded)."""
        return [self.engine_status(spec) for spec in ENGINES]
