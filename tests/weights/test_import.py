"""Importing weights from a folder: recognised by hash, verified, copied atomically."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.engine import weights
from tests.weights.support import leftovers, shared_dir


def test_import_from_the_shared_folder_copies_and_verifies(cache: Path) -> None:
    source = shared_dir("weights")
    report = weights.import_weights([source])
    assert len(report.imported) == 14 and report.already_present == []
    assert sorted(p.name for p in report.skipped) == ["LICENSE", "LICENSE", "SHA256SUMS",
                                                      "SOURCES.md"]
    for src, copy in report.imported:
        assert copy == cache / copy.relative_to(cache)
        assert copy.read_bytes() == src.read_bytes() and not copy.is_symlink()
    states = {s.file.name: s for s in weights.weights_report()}
    assert all(s.state == "verified" for n, s in states.items() if not n.startswith("adain/"))
    assert all(str(s.path).startswith(str(cache)) for s in states.values() if s.path)
    assert len(leftovers(cache)) == 14  # no temporary files


def test_second_import_finds_everything_present(cache: Path) -> None:
    weights.import_weights([shared_dir("weights") / "microast"])
    again = weights.import_weights([shared_dir("weights") / "microast"])
    assert again.imported == [] and len(again.already_present) == 4


def test_files_are_recognised_by_hash_not_name(cache: Path, tmp_path: Path) -> None:
    stick = tmp_path / "usb"
    stick.mkdir()
    shutil.copyfile(shared_dir("weights") / "microast/modulator_iter_160000.pth.tar",
                    stick / "renamed.bin")
    (stick / "holiday.jpg").write_bytes(b"\xff\xd8 not weights")
    (stick / "same_size.bin").write_bytes(b"\0" * 12158)  # a registry size, wrong content
    report = weights.import_weights([stick])
    assert [(s.name, c) for s, c in report.imported] == [
        ("renamed.bin", cache / "microast/modulator_iter_160000.pth.tar")]
    assert sorted(p.name for p in report.skipped) == ["holiday.jpg", "same_size.bin"]
    assert weights.resolve_weight("microast/modulator_iter_160000.pth.tar") == \
        cache / "microast/modulator_iter_160000.pth.tar"


def test_import_into_an_explicit_folder(cache: Path, tmp_path: Path) -> None:
    report = weights.import_weights([shared_dir("weights") / "cd16x_wct" / "1SE.pth"],
                                    dest_dir=tmp_path / "elsewhere")
    assert [c for _, c in report.imported] == [tmp_path / "elsewhere/cd16x_wct/1SE.pth"]
    assert leftovers(cache) == []


def test_missing_source_is_a_clear_error(cache: Path, tmp_path: Path) -> None:
    with pytest.raises(weights.StyleTransferError, match="does not exist"):
        weights.import_weights([tmp_path / "no-such-stick"])
