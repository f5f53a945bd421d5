"""What an import from a folder may read: files that look like weights, and nothing of the
studio's own or of the system's.

Reading a file is not harmless. Closing any descriptor of the SQLite database inside the
server process drops SQLite's POSIX locks on it, after which the next process that opens the
database deletes the live WAL, and acknowledged jobs are lost (``/proc/self/fd`` reaches the
same files); a FIFO blocks a read for ever and a device never ends. So everything here is
decided with ``lstat`` and real paths before any file is opened:

* the folder given is refused when it is ``/``, inside ``/proc``, ``/sys``, ``/dev`` or
  ``/run``, inside or around the data folder, the media folder or the database's folder (the
  store's ``protected`` folders, compared as real paths), a special file, missing, or a path
  longer than the system allows;
* inside it, a special file (pipe, socket, device), a link to somewhere outside it, a folder
  that is a protected one under another name (a bind mount), or more than
  :data:`FILE_LIMIT` entries refuse the import too;
* of the regular files, only those named like a pinned weight file (its extension) and, where
  the pin has a size, of that size are opened; the others are listed as skipped, unread.

A refusal is an :class:`ImportRefused` whose message says why in plain words.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Iterable

from app.engine.errors import StyleTransferError
from app.engine.spec import WeightFile

SYSTEM_FOLDERS = (Path("/proc"), Path("/sys"), Path("/dev"), Path("/run"))
PATH_MAX_BYTES = 4095        # Linux's PATH_MAX (4096) less the closing NUL
NAME_MAX_BYTES = 255
FILE_LIMIT = 5000            # more entries than any weights folder has: likely a wrong folder
CHOOSE_ANOTHER = "choose the folder the weight files are in"


class ImportRefused(StyleTransferError):
    """A folder or file an import will not read, and why."""


@dataclass(frozen=True)
class Candidate:
    """A regular file that looks like weights, with the identity ``lstat`` saw."""

    path: Path
    device: int
    inode: int


@dataclass
class FoundFiles:
    """What :func:`find_weight_files` found: files to read, and files left unread."""

    candidates: list[Candidate] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _check_length(text: str) -> None:
    if "\0" in text:
        raise ImportRefused("A path cannot hold the NUL character; give the folder's path.")
    raw = os.fsencode(text)
    if len(raw) > PATH_MAX_BYTES or any(len(part) > NAME_MAX_BYTES for part in raw.split(b"/")):
        raise ImportRefused(f"That path ({len(text)} characters) is longer than a path on this "
                            f"system can be; {CHOOSE_ANOTHER}.")


def _unreadable(path: Path | str, exc: OSError) -> ImportRefused:
    return ImportRefused(f"{path} cannot be read ({(exc.strerror or 'error').lower()}).")


def _lstat(path: Path | str) -> os.stat_result:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise ImportRefused(f"{path} does not exist.") from None
    except OSError as exc:
        raise _unreadable(path, exc) from None


def checked_root(path: Path | str, protected: Iterable[Path]) -> Path:
    """The real path of the folder (or file) to import from, or :class:`ImportRefused`."""
    text = os.fspath(path)
    _check_length(text)
    _lstat(text)
    real = Path(os.path.realpath(text))
    if real == Path("/") or any(_within(real, system) for system in SYSTEM_FOLDERS):
        raise ImportRefused(f"{text} is a system folder ({real}), not one to import weights "
                            f"from; {CHOOSE_ANOTHER}.")
    for folder in protected:
        folder = Path(os.path.realpath(folder))
        if _within(real, folder) or _within(folder, real):
            raise ImportRefused(f"{text} holds the studio's own files or is among them (its "
                                f"database and media are in {folder}); {CHOOSE_ANOTHER}.")
    kind = _lstat(real).st_mode
    if not (stat.S_ISDIR(kind) or stat.S_ISREG(kind)):
        raise ImportRefused(f"{text} is a special file (a pipe, socket or device), not a "
                            "folder or a weight file.")
    return real


def weight_suffix(file: WeightFile) -> str:
    """A pinned file's extension, lower case (".pth", ".pth.tar")."""
    return "".join(PurePosixPath(file.basename).suffixes).lower()


def looks_like_weights(name: str, size: int, pins: Iterable[WeightFile]) -> bool:
    """Whether a file so named and of this size could be one of ``pins``."""
    name = name.lower()
    return any(name.endswith(weight_suffix(pin)) and pin.size in (None, size) for pin in pins)


def _identities(protected: Iterable[Path]) -> set[tuple[int, int]]:
    """(device, inode) of each protected folder and of the files directly in it (the
    database and its WAL, reached under another name through a hard link)."""
    found = set()
    for folder in protected:
        try:
            info = os.stat(folder)
            found.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as entries:
                for entry in entries:
                    info = entry.stat(follow_symlinks=False)
                    found.add((info.st_dev, info.st_ino))
        except OSError:
            continue                 # not made yet: nothing of it to reach
    return found


def _entry_problem(path: Path, info: os.stat_result, root: Path,
                   identities: set[tuple[int, int]]) -> str | None:
    if (info.st_dev, info.st_ino) in identities:
        return f"{path} is one of the studio's own files or folders under another name"
    if stat.S_ISLNK(info.st_mode):
        target = Path(os.path.realpath(path))
        return None if _within(target, root) else f"{path} is a link to {target}, outside {root}"
    if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
        return f"{path} is a special file (a pipe, socket or device)"
    return None


def find_weight_files(path: Path | str, pins: Iterable[WeightFile],
                      protected: Iterable[Path]) -> FoundFiles:
    """Every file under ``path`` (a folder, searched without following links, or one file)
    that may be read, and those left unread, both sorted; :class:`ImportRefused` before
    anything is opened when the import must not go on."""
    pins, protected = tuple(pins), tuple(protected)
    root = checked_root(path, protected)
    identities, found, seen = _identities(protected), FoundFiles(), 0
    stack = [(root, os.lstat(root))]
    while stack:
        current, info = stack.pop()
        problem = _entry_problem(current, info, root, identities)
        if problem:
            raise ImportRefused(f"{problem}; nothing was imported ({CHOOSE_ANOTHER}).")
        if stat.S_ISDIR(info.st_mode):
            children = _children(current)
            seen += len(children)
            if seen > FILE_LIMIT:
                raise ImportRefused(f"{root} holds more than {FILE_LIMIT} files; "
                                    f"{CHOOSE_ANOTHER}.")
            stack.extend(children)
        elif stat.S_ISREG(info.st_mode) and looks_like_weights(current.name, info.st_size, pins):
            found.candidates.append(Candidate(current, info.st_dev, info.st_ino))
        else:
            found.skipped.append(current)          # another file, or a link inside the folder
    found.candidates.sort(key=lambda c: c.path)
    found.skipped.sort()
    return found


def _children(folder: Path) -> list[tuple[Path, os.stat_result]]:
    try:
        with os.scandir(folder) as entries:
            return [(Path(e.path), e.stat(follow_symlinks=False)) for e in entries]
    except OSError as exc:
        raise _unreadable(folder, exc) from None


def open_candidate(candidate: Candidate) -> BinaryIO:
    """Open a file :func:`find_weight_files` chose, refusing it when it was swapped since
    (for a link, a pipe or another file) rather than blocking or reading something else."""
    try:
        handle = os.open(candidate.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise _unreadable(candidate.path, exc) from None
    info = os.fstat(handle)
    if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) != (candidate.device,
                                                                        candidate.inode):
        os.close(handle)
        raise ImportRefused(f"{candidate.path} changed while it was being imported; try again.")
    return os.fdopen(handle, "rb")
