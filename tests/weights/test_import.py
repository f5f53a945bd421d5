"""Importing weights from a folder: recognised by hash, verified, copied atomically."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.engine.weights.downloads import import_weights
from app.engine.errors import StyleTransferError
from app.engine.weights.store import WeightStore
from tests.weights.support import leftovers, shared_dir


def test_import_from_the_shared_folder_copies_and_verifies(cache: Path, store: WeightStore) -> None:
    source = shared_dir("weights")
    report = import_weights(store, [source])
    # the five files an engine loads; the rest of the release and the notes are skipped
    assert len(report.imported) == 5 and report.already_present == []
    unpinned = [f"{n}S{k}.pth" for n in range(1, 6) for k in "ED" if (n, k) != (5, "E")]
    assert sorted(p.name for p in report.skipped) == sorted(
        ["LICENSE", "LICENSE", "SHA256SUMS", "SOURCES.md", *unpinned])
    for src, copy in report.imported:
        assert copy == cache / copy.relative_to(cache)
        assert copy.read_bytes() == src.read_bytes() and not copy.is_symlink()
    states = {s.file.name: s for s in store.report()}
    assert all(s.state == "verified" for n, s in states.items() if not n.startswith(("adain/", "googlenet/")))
    assert all(str(s.path).startswith(str(cache)) for s in states.values() if s.path)
    assert len(leftovers(cache)) == 5  # no temporary files


def test_second_import_finds_everything_present(cache: Path, store: WeightStore) -> None:
    import_weights(store, [shared_dir("weights") / "microast"])
    again = import_weights(store, [shared_dir("weights") / "microast"])
    assert again.imported == [] and len(again.already_present) == 4


def test_files_are_recognised_by_hash_not_name(cache: Path, store: WeightStore, tmp_path: Path) -> None:
    stick = tmp_path / "usb"
    stick.mkdir()
    modulator = shared_dir("weights") / "microast/modulator_iter_160000.pth.tar"
    shutil.copyfile(modulator, stick / "renamed.pth.tar")
    shutil.copyfile(modulator, stick / "renamed.bin")     # not named like weights: unread
    (stick / "holiday.jpg").write_bytes(b"\xff\xd8 not weights")
    (stick / "same_size.pth.tar").write_bytes(b"\0" * 12158)  # a pinned size, wrong content
    report = import_weights(store, [stick])
    assert [(s.name, c) for s, c in report.imported] == [
        ("renamed.pth.tar", cache / "microast/modulator_iter_160000.pth.tar")]
    assert sorted(p.name for p in report.skipped) == ["holiday.jpg", "renamed.bin",
                                                      "same_size.pth.tar"]
    assert store.resolve("microast/modulator_iter_160000.pth.tar") == \
        cache / "microast/modulator_iter_160000.pth.tar"


def test_import_into_an_explicit_folder(cache: Path, store: WeightStore, tmp_path: Path) -> None:
    modulator = "microast/modulator_iter_160000.pth.tar"
    report = import_weights(store, [shared_dir("weights") / modulator],
                            dest_dir=tmp_path / "elsewhere")
    assert [c for _, c in report.imported] == [tmp_path / "elsewhere" / modulator]
    assert leftovers(cache) == []


def test_missing_source_is_a_clear_error(cache: Path, store: WeightStore, tmp_path: Path) -> None:
    with pytest.raises(StyleTransferError, match="does not exist"):
        import_weights(store, [tmp_path / "no-such-stick"])
