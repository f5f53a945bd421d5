"""Model weights: a registry pinned by SHA-256, a resolver, downloads and imports.

Every checkpoint an engine loads is a :class:`WeightFile` below, named by a relative path
("adain/decoder.pth"). :func:`resolve_weight` finds a copy whose SHA-256 matches in the search
folders (``DREAMGEN_WEIGHTS_DIR`` first, then the cache ``DREAMGEN_WEIGHTS_CACHE_DIR``), either
nested (``<dir>/adain/decoder.pth``) or flat (``<dir>/decoder.pth``). Hashes are remembered per
(path, inode, size, mtime) so checking an engine before every job costs a ``stat`` per file.

:func:`download` streams a file into the cache with a progress bar, hashing as it goes, and
renames it into place only when size and hash match; ``DREAMGEN_OFFLINE`` refuses, and
``DREAMGEN_WEIGHTS_MIRROR`` (a URL prefix, ``file://`` too) replaces the public URLs.
:func:`import_weights` copies files recognised by their hash from any folder (a USB stick).
Nothing here imports torch, so the CLI can report on weights without loading it.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Iterable, Iterator, Literal

from app.engine.errors import StyleTransferError, WeightsMissingError
from app.settings import get_settings

if TYPE_CHECKING:
    from app.engine.api import EngineStatus

MIRROR_ENV = "DREAMGEN_WEIGHTS_MIRROR"
CHUNK_BYTES = 1 << 20
DOWNLOAD_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class WeightFile:
    """One pinned checkpoint. ``size`` None means the size is not known (only the hash is
    checked)."""

    name: str
    engines: tuple[str, ...]
    url: str
    size: int | None
    sha256: str

    @property
    def basename(self) -> str:
        return self.name.rsplit("/", 1)[-1]


_ADAIN = "https://github.com/naoto0804/pytorch-AdaIN/releases/download/v0.0.0"
_MICROAST = ("https://raw.githubusercontent.com/EndyWon/MicroAST/"
             "d2796c7dbf01dbc29ed35b11675d87fcc640f969/models")
# Assumption: the Collaborative Distillation 16x-pruned encoders NSE.pth are those published in
# trained_models/wct_se_16x_new/ and the decoders NSD.pth those in trained_models/wct_se_16x_new_sd/
# at commit 75c1b81c; the hashes and sizes are those of the copies in ../shared/weights/cd16x_wct.
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

WEIGHT_FILES: tuple[WeightFile, ...] = (
    WeightFile("adain/vgg_normalised.pth", ("adain", "gatys"), f"{_ADAIN}/vgg_normalised.pth",
               None, "804ca2835ecf7539f0cd2a7ac3c18ce81e6f8468969ae7117ac0c148d286bb4a"),
    WeightFile("adain/decoder.pth", ("adain",), f"{_ADAIN}/decoder.pth",
               None, "379ca41d59f3a37eed3599bbbc2560c19da5c458870a5ffd3a9dd41aa88f9472"),
    WeightFile("microast/content_encoder_iter_160000.pth.tar", ("microast",),
               f"{_MICROAST}/content_encoder_iter_160000.pth.tar", 634983,
               "c8d895c0eec52507c157e102fab217c37f0c399ef3e168ef8b0b2677714660a4"),
    WeightFile("microast/style_encoder_iter_160000.pth.tar", ("microast",),
               f"{_MICROAST}/style_encoder_iter_160000.pth.tar", 634983,
               "94f6b3fa386828692c20809a0af8bd0eba9c04e90a7d8842086976e4d223c5af"),
    WeightFile("microast/modulator_iter_160000.pth.tar", ("microast",),
               f"{_MICROAST}/modulator_iter_160000.pth.tar", 12158,
               "8588055baf7d5ad8398d595d5518c6f030e3ff8dbb6007a7c1779776e11da28b"),
    WeightFile("microast/decoder_iter_160000.pth.tar", ("microast",),
               f"{_MICROAST}/decoder_iter_160000.pth.tar", 619135,
               "32e04a46b953fd9f94ec9e20f351511305a5260e000c18f9aef6570d5f1e23d9"),
    *(WeightFile(f"cd16x_wct/{base}", ("gatys-lite",) if "SE" in base else (),
                 f"{_CD16X}/wct_se_16x_new{'' if 'SE' in base else '_sd'}/{base}", size, digest)
      for base, (size, digest) in _CD16X_FILES.items()),
)
REGISTRY: dict[str, WeightFile] = {f.name: f for f in WEIGHT_FILES}

# Same order as app.engine.api.ENGINES (not imported: it pulls in torch).
ENGINE_LABELS: dict[str, str] = {
    "adain": "AdaIN (fast)",
    "microast": "MicroAST (fast, pretrained)",
    "gatys": "Gatys (best quality, slow)",
    "gatys-lite": "Gatys lite (pruned VGG-19, works offline)",
}
ENGINE_FILES: dict[str, tuple[str, ...]] = {
    engine: tuple(f.name for f in WEIGHT_FILES if engine in f.engines) for engine in ENGINE_LABELS
}


class WeightsDownloadError(StyleTransferError):
    """A download was refused (offline) or failed (network, truncated, wrong hash)."""


def get_weight_file(name: str) -> WeightFile:
    """The registry entry called ``name`` (e.g. ``"adain/decoder.pth"``)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise StyleTransferError(f"unknown weight file {name!r}; known: "
                                 f"{', '.join(REGISTRY)}") from None


def files_for(targets: Iterable[str]) -> list[WeightFile]:
    """Registry entries for engine names and/or file names, in registry order, no repeats.
    No targets means every file."""
    targets = list(targets)
    if not targets:
        return list(WEIGHT_FILES)
    wanted: set[str] = set()
    for target in targets:
        if target in ENGINE_FILES:
            wanted.update(ENGINE_FILES[target])
        elif target in REGISTRY:
            wanted.add(target)
        else:
            raise StyleTransferError(f"{target!r} is neither an engine ({', '.join(ENGINE_FILES)})"
                                     " nor a weight file (see `dreamgen weights status`)")
    return [f for f in WEIGHT_FILES if f.name in wanted]


def fix_command(file: WeightFile) -> str:
    """The command that fetches ``file``."""
    return f"dreamgen weights download {file.engines[0] if file.engines else file.name}"


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
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
    with _HASHES_LOCK:
        _HASHES[key] = digest.hexdigest()
    return digest.hexdigest()


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


# ----------------------------------------------------------------------------- resolving
@dataclass(frozen=True)
class WeightState:
    """Where a registry file stands: ``verified`` (path is the good copy), ``corrupt`` (path
    is a copy with the wrong hash) or ``missing`` (path is None)."""

    file: WeightFile
    state: Literal["verified", "corrupt", "missing"]
    path: Path | None


def search_dirs() -> list[Path]:
    """Folders searched for weights, in order: ``weights_dir``, then ``weights_cache_dir``
    (read from the settings at call time)."""
    settings = get_settings()
    dirs: list[Path] = []
    for folder in (settings.weights_dir, settings.weights_cache_dir):
        if folder is not None and Path(folder).expanduser() not in dirs:
            dirs.append(Path(folder).expanduser())
    return dirs


def _candidates(file: WeightFile, dirs: list[Path]) -> Iterator[Path]:
    for folder in dirs:
        for path in (folder / file.name, folder / file.basename):
            if path.is_file():
                yield path


def locate(file: WeightFile) -> WeightState:
    """The first copy of ``file`` in :func:`search_dirs` whose hash matches."""
    corrupt: Path | None = None
    for path in _candidates(file, search_dirs()):
        if is_intact(path, file):
            return WeightState(file, "verified", path)
        corrupt = corrupt or path
    return WeightState(file, "corrupt" if corrupt else "missing", corrupt)


def resolve_weight(name: str) -> Path:
    """Path of a verified copy of the registry file ``name``; raises
    :class:`~app.engine.errors.WeightsMissingError` naming the file and the fix."""
    found = locate(get_weight_file(name))
    if found.state == "verified" and found.path is not None:
        return found.path
    if found.state == "corrupt":
        raise WeightsMissingError(f"Weight file {name} at {found.path} is corrupt (SHA-256 "
                                  "mismatch); delete it.", fix_command(found.file))
    looked = ", ".join(str(d) for d in search_dirs())
    raise WeightsMissingError(f"Weight file {name} is missing (looked in {looked}).",
                              fix_command(found.file))


def weights_report() -> list[WeightState]:
    """Every registry file with its state, in registry order (for ``dreamgen weights status``)."""
    return [locate(file) for file in WEIGHT_FILES]


def require_engine(engine: str) -> None:
    """Raise :class:`~app.engine.errors.WeightsMissingError` (naming the first missing or
    corrupt file and the fix) unless every file ``engine`` needs is verified."""
    for name in ENGINE_FILES[engine]:
        resolve_weight(name)


def engine_ready(engine: str) -> bool:
    """Whether every file ``engine`` needs is present and verified."""
    return engine_status(engine).ready


def engine_status(engine: str) -> EngineStatus:
    """Readiness of ``engine`` with a detail line and, when not ready, the command that fixes it."""
    from app.engine.api import EngineStatus

    if engine not in ENGINE_FILES:
        raise StyleTransferError(f"unknown engine {engine!r}; choose one of "
                                 f"{', '.join(ENGINE_FILES)}")
    states = [locate(REGISTRY[name]) for name in ENGINE_FILES[engine]]
    bad = [s for s in states if s.state != "verified"]
    if bad:
        detail = "; ".join(f"{s.state} {s.file.name}" for s in bad)
        return EngineStatus(engine, ENGINE_LABELS[engine], False, detail,
                            f"dreamgen weights download {engine}")
    folders = sorted({str(s.path.parent) for s in states if s.path is not None})
    return EngineStatus(engine, ENGINE_LABELS[engine], True,
                        f"weights verified in {', '.join(folders)}")


# ----------------------------------------------------------------------------- downloading
def source_url(file: WeightFile, base_url: str | None = None) -> str:
    """``file``'s public URL, or ``<base_url>/<name>`` when a mirror is given (argument, else
    ``DREAMGEN_WEIGHTS_MIRROR``)."""
    mirror = base_url or get_settings().weights_mirror
    return f"{mirror.rstrip('/')}/{file.name}" if mirror else file.url


def refuse_if_offline(files: list[WeightFile]) -> None:
    """Raise :class:`WeightsDownloadError` when ``DREAMGEN_OFFLINE`` forbids fetching ``files``."""
    if files and get_settings().offline:
        raise WeightsDownloadError(
            f"Offline mode is on (DREAMGEN_OFFLINE), so {', '.join(f.name for f in files)} "
            "will not be downloaded; copy them in with `dreamgen weights import FOLDER`.")


def download(names: Iterable[str | WeightFile], dest_dir: Path | None = None,
             progress: bool = True, base_url: str | None = None,
             timeout: float = DOWNLOAD_TIMEOUT_S) -> list[Path]:
    """Fetch registry files into ``dest_dir`` (default: the cache) as ``<dest>/<name>``.

    Files already there and intact are kept. Each download streams into a temporary file
    beside its destination, is checked for size and SHA-256, then renamed into place; on any
    failure the temporary file is deleted and :class:`WeightsDownloadError` is raised.
    """
    files = [n if isinstance(n, WeightFile) else get_weight_file(n) for n in names]
    refuse_if_offline(files)
    dest = Path(dest_dir or get_settings().weights_cache_dir).expanduser()
    paths = []
    for file in files:
        target = dest / file.name
        if not (target.is_file() and is_intact(target, file)):
            _fetch(file, source_url(file, base_url), target, progress, timeout)
        paths.append(target)
    return paths


def _fetch(file: WeightFile, url: str, target: Path, progress: bool, timeout: float) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{file.basename}.",
                                         suffix=".part")
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            digest = _stream(file, url, out, progress, timeout)
            out.flush()
            os.fsync(out.fileno())
        if digest != file.sha256:
            raise WeightsDownloadError(
                f"{file.name} from {url} has SHA-256 {digest}, expected {file.sha256}; "
                "the download was discarded (a wrong or tampered file, or a bad mirror).")
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def _stream(file: WeightFile, url: str, out: IO[bytes], progress: bool, timeout: float) -> str:
    """Copy ``url`` into ``out`` with a progress bar; return the SHA-256 of what arrived after
    checking the byte count against Content-Length and the registry size."""
    from tqdm import tqdm

    digest, received = hashlib.sha256(), 0
    request = urllib.request.Request(url, headers={"User-Agent": "dreamgen"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            header = response.headers.get("Content-Length")
            announced = int(header) if header and header.isdigit() else None
            with tqdm(total=file.size or announced, desc=file.name, unit="B", unit_scale=True,
                      unit_divisor=1024, disable=not progress, file=sys.stderr) as bar:
                while chunk := response.read(CHUNK_BYTES):
                    received += len(chunk)
                    if file.size is not None and received > file.size:
                        raise WeightsDownloadError(f"{file.name} from {url} is larger than the "
                                                   f"expected {file.size} bytes; discarded.")
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as exc:
        raise WeightsDownloadError(f"Downloading {file.name} from {url} failed: "
                                   f"HTTP {exc.code} {exc.reason}.") from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise WeightsDownloadError(f"Downloading {file.name} from {url} failed: {reason}.") from exc
    expected = announced if announced is not None else file.size
    if expected is not None and received != expected:
        raise WeightsDownloadError(f"Downloading {file.name} from {url} was cut short: "
                                   f"{received} of {expected} bytes arrived; discarded.")
    return digest.hexdigest()


# ----------------------------------------------------------------------------- importing
@dataclass
class ImportReport:
    """What :func:`import_weights` did with each file it looked at."""

    imported: list[tuple[Path, Path]] = field(default_factory=list)         # (source, copy)
    already_present: list[tuple[Path, Path]] = field(default_factory=list)  # (source, copy)
    skipped: list[Path] = field(default_factory=list)                       # unknown hash


def import_weights(paths: Iterable[Path | str], dest_dir: Path | None = None) -> ImportReport:
    """Copy registry files found in ``paths`` (files or folders, searched recursively) into
    ``dest_dir`` (default: the cache), recognising them by SHA-256 whatever their names."""
    dest = Path(dest_dir or get_settings().weights_cache_dir).expanduser()
    by_hash = {f.sha256: f for f in WEIGHT_FILES}
    sizes = {f.size for f in WEIGHT_FILES}
    report = ImportReport()
    for source in _walk_files(paths):
        # A size no registry file has rules a file out without reading it.
        maybe = None in sizes or source.stat().st_size in sizes
        known = by_hash.get(file_sha256(source)) if maybe else None
        if known is None:
            report.skipped.append(source)
            continue
        target = dest / known.name
        if target.is_file() and is_intact(target, known):
            report.already_present.append((source, target))
            continue
        _copy_verified(source, target, known)
        report.imported.append((source, target))
    return report


def _walk_files(paths: Iterable[Path | str]) -> Iterator[Path]:
    for path in map(Path, paths):
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        else:
            raise StyleTransferError(f"{path} does not exist")


def _copy_verified(source: Path, target: Path, file: WeightFile) -> None:
    """Copy ``source`` to ``target`` through a temporary file, hashing the copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{file.basename}.",
                                         suffix=".part")
    temp = Path(temp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out, source.open("rb") as stream:
            while chunk := stream.read(CHUNK_BYTES):
                out.write(chunk)
                digest.update(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != file.sha256:
            raise StyleTransferError(f"{source} changed while it was being copied; try again")
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
