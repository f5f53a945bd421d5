"""Getting weights onto this machine: pinned downloads and imports from a folder.

:func:`download` streams a registry file into the store's cache with a progress bar (or a
callback, for the admin page), hashing as it goes, and renames it into place only when size
and SHA-256 match; the store's ``offline`` flag refuses, and its ``mirror`` (a URL prefix,
``file://`` too) replaces the public URLs. :func:`import_weights` copies files recognised by
their hash from a folder (a USB stick), reading only what :mod:`app.engine.weights.import_checks`
lets it. Nothing is ever half-written under a real name.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import ssl
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterable

from app.engine.errors import StyleTransferError
from app.engine.weights.import_checks import find_weight_files, open_candidate
from app.engine.weights.store import CHUNK_BYTES, WeightFile, WeightStore, is_intact

DOWNLOAD_TIMEOUT_S = 30.0
# A download's temporary file untouched this long was left by a killed process: a live one
# writes every chunk, and a read that waits over DOWNLOAD_TIMEOUT_S fails.
STALE_PART_S = 600.0
# Called as bytes arrive: (file, bytes received so far, bytes expected or None).
ByteProgress = Callable[[WeightFile, int, "int | None"], None]


class WeightsDownloadError(StyleTransferError):
    """A download was refused (offline) or failed (network, truncated, wrong hash)."""


def source_url(store: WeightStore, file: WeightFile, base_url: str | None = None) -> str:
    """``file``'s public URL, or ``<base_url>/<name>`` when a mirror is given (argument, else
    the store's ``mirror``)."""
    mirror = base_url or store.mirror
    return f"{mirror.rstrip('/')}/{file.name}" if mirror else file.url


def refuse_if_offline(store: WeightStore, files: list[WeightFile]) -> None:
    """Raise :class:`WeightsDownloadError` when the store is offline and ``files`` would need
    fetching."""
    if files and store.offline:
        raise WeightsDownloadError(
            f"Offline mode is on (DREAMGEN_OFFLINE), so {', '.join(f.name for f in files)} "
            "will not be downloaded; import them from a folder instead.")


def connection_trouble(exc: BaseException) -> str:
    """What went wrong with a connection, in words (never "[Errno -2] Name or service not
    known")."""
    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, socket.gaierror):
        return "the address could not be found (is this machine offline?)"
    if isinstance(reason, TimeoutError):
        return "it timed out waiting for an answer"
    if isinstance(reason, ConnectionRefusedError):
        return "nothing answers at that address"
    if isinstance(reason, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return "the connection was cut"
    if isinstance(reason, ssl.SSLError):
        return "the secure connection could not be set up"
    if isinstance(reason, http.client.HTTPException):
        return "the answer was not a proper web reply"
    if isinstance(reason, str):
        return reason
    return "the connection failed"


def download(store: WeightStore, names: Iterable[str | WeightFile],
             dest_dir: Path | None = None, progress: bool = True, base_url: str | None = None,
             timeout: float = DOWNLOAD_TIMEOUT_S,
             on_bytes: ByteProgress | None = None) -> list[Path]:
    """Fetch registry files into ``dest_dir`` (default: the store's cache) as
    ``<dest>/<name>``.

    Files already there and intact are kept. Each download streams into a temporary file
    beside its destination, is checked for size and SHA-256, then renamed into place; on any
    failure the temporary file is deleted and :class:`WeightsDownloadError` is raised.
    ``progress`` shows a tqdm bar on stderr; ``on_bytes`` is told of every chunk.
    """
    files = [n if isinstance(n, WeightFile) else store.pinned(n) for n in names]
    refuse_if_offline(store, files)
    dest = Path(dest_dir or store.cache_dir).expanduser()
    paths = []
    for file in files:
        target = dest / file.name
        if not (target.is_file() and is_intact(target, file)):
            _fetch(file, source_url(store, file, base_url), target, progress, timeout, on_bytes)
        paths.append(target)
    return paths


def remove_stale_parts(folder: Path, basename: str, older_than_s: float = STALE_PART_S) -> int:
    """Remove ``.<basename>.*.part`` files in ``folder`` untouched for ``older_than_s``: what
    a process killed mid-download left (a download in progress writes every few
    milliseconds, so a fresh one is never touched). Returns how many went."""
    removed = 0
    now = time.time()
    for part in folder.glob(f".{basename}.*.part"):
        try:
            if now - part.stat().st_mtime > older_than_s:
                part.unlink()
                removed += 1
        except OSError:              # gone meanwhile, or not ours to remove
            continue
    return removed


def _fetch(file: WeightFile, url: str, target: Path, progress: bool, timeout: float,
           on_bytes: ByteProgress | None) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(target.parent, file.basename)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{file.basename}.",
                                         suffix=".part")
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            digest = _stream(file, url, out, progress, timeout, on_bytes)
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


def _stream(file: WeightFile, url: str, out: IO[bytes], progress: bool, timeout: float,
            on_bytes: ByteProgress | None) -> str:
    """Copy ``url`` into ``out`` with a progress bar; return the SHA-256 of what arrived after
    checking the byte count against Content-Length and the registry size."""
    from tqdm import tqdm

    digest, received = hashlib.sha256(), 0
    request = urllib.request.Request(url, headers={"User-Agent": "dreamgen"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            header = response.headers.get("Content-Length")
            announced = int(header) if header and header.isdigit() else None
            total = file.size or announced
            with tqdm(total=total, desc=file.name, unit="B", unit_scale=True,
                      unit_divisor=1024, disable=not progress, file=sys.stderr) as bar:
                while chunk := response.read(CHUNK_BYTES):
                    received += len(chunk)
                    if file.size is not None and received > file.size:
                        raise WeightsDownloadError(f"{file.name} from {url} is larger than the "
                                                   f"expected {file.size} bytes; discarded.")
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
                    if on_bytes is not None:
                        on_bytes(file, received, total)
    except urllib.error.HTTPError as exc:
        raise WeightsDownloadError(f"Downloading {file.name} from {url} failed: "
                                   f"HTTP {exc.code} {exc.reason}.") from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise WeightsDownloadError(f"Downloading {file.name} from {url} failed: "
                                   f"{connection_trouble(exc)}.") from exc
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


def import_weights(store: WeightStore, paths: Iterable[Path | str],
                   dest_dir: Path | None = None) -> ImportReport:
    """Copy registry files found in ``paths`` (files or folders, searched recursively) into
    ``dest_dir`` (default: the store's cache), recognising them by SHA-256 whatever their
    base names (renamed copies too). Every path passes :func:`~app.engine.weights.import_checks.find_weight_files` before any
    file is opened (:class:`~app.engine.weights.import_checks.ImportRefused` says why not), and only
    files named and sized like weights are read."""
    dest = Path(dest_dir or store.cache_dir).expanduser()
    by_hash = {f.sha256: f for f in store.pins}
    found = [find_weight_files(path, store.pins, store.protected) for path in paths]
    report = ImportReport()
    for files in found:
        report.skipped += files.skipped
        for candidate in files.candidates:
            with open_candidate(candidate) as stream:
                known = by_hash.get(_sha256_of(stream))
                if known is None:
                    report.skipped.append(candidate.path)
                    continue
                target = dest / known.name
                if target.is_file() and is_intact(target, known):
                    report.already_present.append((candidate.path, target))
                    continue
                stream.seek(0)
                _copy_verified(stream, candidate.path, target, known)
                report.imported.append((candidate.path, target))
    report.skipped.sort()
    return report


def _sha256_of(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK_BYTES):
        digest.update(chunk)
    return digest.hexdigest()


def _copy_verified(stream: IO[bytes], source: Path, target: Path, file: WeightFile) -> None:
    """Copy ``stream`` (``source``, opened) to ``target`` through a temporary file, hashing
    the copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{file.basename}.",
                                         suffix=".part")
    temp = Path(temp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out:
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
