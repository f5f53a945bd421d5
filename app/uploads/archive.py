"""Unpacking the photos of a batch's ZIP, with the archive treated as hostile.

Whole-archive refusals (413, nothing kept): more members than a batch takes (counted from
the central directory before anything is unpacked, so 10,000 tiny members cost nothing), a
declared unpacked total over the limit, a member that unpacks to more than ``max_ratio``
times its packed size (a ZIP bomb), or more bytes really coming out than the limit.
Member refusals (the member is skipped and reported, the rest go on): a name that points
outside the archive (``../``, an absolute path, a drive letter), a symbolic link (Unix mode
in ``external_attr``), an archive inside the archive, an encrypted member, a member larger
than one upload may be, and one whose bytes do not match its checksum. Folders, and the
hidden files archivers add (``__MACOSX/``, ``.DS_Store``), are passed over silently.

Only the bytes are unpacked here; each photo then goes through the same checks as a single
upload (:mod:`app.uploads.checks`, in a child process).
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable

from app.refusals import Refused

CHUNK = 1024 * 1024
RATIO_FLOOR = 1024 * 1024       # members smaller than this cannot make a bomb on their own
NESTED_SUFFIXES = (".zip", ".jar", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".zst")
NESTED_MAGIC = (b"PK\x03\x04", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf", b"Rar!",
                b"\x28\xb5\x2f\xfd")
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


@dataclass(frozen=True)
class ArchiveLimits:
    """What one batch's ZIP may hold (from the settings)."""

    max_members: int
    max_member_bytes: int
    max_total_bytes: int
    max_ratio: float


@dataclass(frozen=True)
class Unpacked:
    """A member that came out: its name in the archive (for the download) and its bytes."""

    name: str
    path: Path


@dataclass(frozen=True)
class Skipped:
    """A member that was refused, and why, in plain words."""

    name: str
    reason: str


class MemberRefused(Exception):
    """This member is skipped (the rest of the archive goes on)."""


def is_zip(path: Path) -> bool:
    """Whether the file starts like a ZIP (a local header, or an empty archive's end)."""
    with open(path, "rb") as handle:
        return handle.read(4) in ZIP_MAGIC


def unpack_photos(archive: Path, new_path: Callable[[], Path], limits: ArchiveLimits
                  ) -> tuple[list[Unpacked], list[Skipped]]:
    """Unpack the members of ``archive`` that may be photos, each to a fresh ``new_path()``.
    Raises :class:`Refused` (413 or 422) for the archive as a whole, having removed what it
    unpacked; members it refuses are returned as :class:`Skipped`."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            infos = [i for i in zipped.infolist() if not _passed_over(i)]
            _check_archive(infos, limits)
            return _unpack_all(zipped, infos, new_path, limits)
    except zipfile.BadZipFile:
        raise Refused("the ZIP file is damaged or is not a ZIP file") from None


def _passed_over(info: zipfile.ZipInfo) -> bool:
    """Folders and the hidden files archivers add (nobody means them as photos)."""
    parts = PurePosixPath(info.filename.replace("\\", "/")).parts
    return info.is_dir() or not parts or parts[0] == "__MACOSX" or parts[-1].startswith(".")


def _check_archive(infos: list[zipfile.ZipInfo], limits: ArchiveLimits) -> None:
    """The refusals decided from the central directory alone, before any byte is unpacked."""
    if len(infos) > limits.max_members:
        raise Refused(f"the ZIP holds {len(infos)} files; a batch takes at most "
                      f"{limits.max_members} photos", 413)
    declared = sum(i.file_size for i in infos)
    if declared > limits.max_total_bytes:
        raise Refused(f"the ZIP unpacks to {declared / 2**20:,.0f} MiB; the limit is "
                      f"{limits.max_total_bytes // 2**20:,} MiB", 413)
    for info in infos:
        if info.file_size > RATIO_FLOOR and \
                info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise Refused(_bomb(info.filename), 413)


def _bomb(name: str) -> str:
    return (f"{_shown(name)} in the ZIP unpacks to far more than its packed size, as a ZIP "
            "bomb does; nothing was kept")


def _unpack_all(zipped: zipfile.ZipFile, infos: list[zipfile.ZipInfo],
                new_path: Callable[[], Path], limits: ArchiveLimits
                ) -> tuple[list[Unpacked], list[Skipped]]:
    unpacked: list[Unpacked] = []
    skipped: list[Skipped] = []
    budget = [limits.max_total_bytes]      # what may still really come out, all members
    try:
        for info in infos:
            target = new_path()
            try:
                _check_member(info, limits)
                _unpack_member(zipped, info, target, limits, budget)
            except MemberRefused as exc:
                target.unlink(missing_ok=True)
                skipped.append(Skipped(_shown(info.filename), str(exc)))
                continue
            except BaseException:
                target.unlink(missing_ok=True)
                raise
            unpacked.append(Unpacked(_shown(info.filename), target))
    except BaseException:
        for member in unpacked:
            member.path.unlink(missing_ok=True)
        raise
    return unpacked, skipped


def _check_member(info: zipfile.ZipInfo, limits: ArchiveLimits) -> None:
    """The member refusals that need no unpacking: its name, its kind, its size."""
    name = info.filename.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or ".." in parts or (len(name) > 1 and name[1] == ":"):
        raise MemberRefused("its name points outside the ZIP, so it was not unpacked")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise MemberRefused("it is a link to another file, not a photo")
    if name.lower().endswith(NESTED_SUFFIXES):
        raise MemberRefused("it is an archive inside the ZIP; put its photos in the ZIP "
                            "itself")
    if info.flag_bits & 0x1:
        raise MemberRefused("it is encrypted")
    if info.file_size > limits.max_member_bytes:
        raise MemberRefused(f"it is larger than the {limits.max_member_bytes // 2**20} MiB "
                            "a photo may be")


def _unpack_member(zipped: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path,
                   limits: ArchiveLimits, budget: list[int]) -> None:
    """Copy the member's bytes out, counting what really comes out against its declared
    size and the whole archive's budget."""
    size = 0
    try:
        with zipped.open(info) as source, open(target, "wb") as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                budget[0] -= len(chunk)
                if budget[0] < 0:
                    raise Refused(f"the ZIP unpacks to more than the "
                                  f"{limits.max_total_bytes // 2**20:,} MiB limit; nothing "
                                  "was kept", 413)
                if size > max(info.file_size, 0) or size > limits.max_member_bytes:
                    raise Refused(_bomb(info.filename), 413)
                if size == len(chunk) and chunk.startswith(NESTED_MAGIC):
                    raise MemberRefused("it is an archive inside the ZIP; put its photos "
                                        "in the ZIP itself")
                out.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        reason = "it uses a compression this server cannot unpack" \
            if isinstance(exc, NotImplementedError) else "it is damaged in the ZIP"
        raise MemberRefused(reason) from None
    if size == 0:
        raise MemberRefused("it is an empty file")


def _shown(name: str) -> str:
    """A member's name as people see it: printable, at most 200 characters."""
    clean = "".join(c if c.isprintable() else "?" for c in name)
    return clean if len(clean) <= 200 else clean[:197] + "..."
