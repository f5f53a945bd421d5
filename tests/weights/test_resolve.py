"""Resolving weights: search order, flat and nested layouts, corrupt copies, the hash cache."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from app.engine import weights
from app.engine.errors import WeightsMissingError
from tests.weights.support import set_env, shared_dir

MODULATOR = "microast/modulator_iter_160000.pth.tar"


def _place(name: str, folder: Path, flat: bool = False) -> Path:
    source = shared_dir("weights") / name
    target = folder / (source.name if flat else name)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def _corrupt_copy(name: str, folder: Path) -> Path:
    target = _place(name, folder)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte flipped
    target.write_bytes(bytes(data))
    return target


def test_nested_layout_in_the_cache_resolves(cache: Path) -> None:
    placed = _place(MODULATOR, cache)
    assert weights.resolve_weight(MODULATOR) == placed


def test_flat_layout_resolves(cache: Path) -> None:
    placed = _place(MODULATOR, cache, flat=True)
    assert placed.parent == cache
    assert weights.resolve_weight(MODULATOR) == placed


def test_weights_dir_is_searched_before_the_cache(cache: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    in_cache = _place(MODULATOR, cache)
    in_dir = _place(MODULATOR, tmp_path / "mine", flat=True)
    assert weights.resolve_weight(MODULATOR) == in_cache
    set_env(monkeypatch, "DREAMGEN_WEIGHTS_DIR", str(tmp_path / "mine"))
    assert weights.search_dirs() == [tmp_path / "mine", cache]
    assert weights.resolve_weight(MODULATOR) == in_dir


def test_corrupt_copy_is_passed_over_for_a_good_one(cache: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _corrupt_copy(MODULATOR, tmp_path / "mine")
    good = _place(MODULATOR, cache)
    set_env(monkeypatch, "DREAMGEN_WEIGHTS_DIR", str(tmp_path / "mine"))
    assert weights.resolve_weight(MODULATOR) == good


def test_corrupt_only_copy_raises_naming_the_mismatch(cache: Path) -> None:
    bad = _corrupt_copy(MODULATOR, cache)
    with pytest.raises(WeightsMissingError) as caught:
        weights.resolve_weight(MODULATOR)
    message = str(caught.value)
    assert "corrupt (SHA-256 mismatch)" in message and str(bad) in message
    assert "dreamgen weights download microast" in message
    assert weights.locate(weights.REGISTRY[MODULATOR]).state == "corrupt"


def test_wrong_size_counts_as_corrupt(cache: Path) -> None:
    target = _place(MODULATOR, cache)
    with target.open("ab") as stream:
        stream.write(b"x")
    assert weights.locate(weights.REGISTRY[MODULATOR]).state == "corrupt"


def test_missing_file_raises_naming_file_folders_and_command(cache: Path) -> None:
    with pytest.raises(WeightsMissingError) as caught:
        weights.resolve_weight("adain/decoder.pth")
    message = str(caught.value)
    assert "adain/decoder.pth is missing" in message and str(cache) in message
    assert "`dreamgen weights download adain`" in message
    assert caught.value.fix_command == "dreamgen weights download adain"


def test_shared_folder_as_weights_dir_makes_microast_and_gatys_lite_ready(
        cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not weights.engine_ready("microast")
    set_env(monkeypatch, "DREAMGEN_WEIGHTS_DIR", str(shared_dir("weights")))
    status = weights.engine_status("microast")
    assert status.ready and status.fix_command == ""
    assert status.label == "MicroAST (fast, pretrained)"
    assert status.detail == f"weights verified in {shared_dir('weights') / 'microast'}"
    assert weights.engine_ready("gatys-lite")
    adain = weights.engine_status("adain")
    assert not adain.ready
    assert adain.detail == "missing adain/vgg_normalised.pth; missing adain/decoder.pth"
    assert adain.fix_command == "dreamgen weights download adain"


def test_auto_engine_falls_back_to_microast_without_adain_weights(cache: Path) -> None:
    from app.engine.api import engine_statuses, resolve_engine

    assert resolve_engine("auto") == "microast"
    assert [s.name for s in engine_statuses()] == ["adain", "microast", "gatys", "gatys-lite"]


def test_report_lists_every_file_with_its_state(cache: Path) -> None:
    _place(MODULATOR, cache)
    _corrupt_copy("cd16x_wct/1SE.pth", cache)
    states = {s.file.name: s for s in weights.weights_report()}
    assert len(states) == len(weights.WEIGHT_FILES)
    assert states[MODULATOR].state == "verified" and states[MODULATOR].path == cache / MODULATOR
    assert states["cd16x_wct/1SE.pth"].state == "corrupt"
    assert states["adain/decoder.pth"].state == "missing" and states["adain/decoder.pth"].path is None


def test_hashes_are_remembered_until_the_file_changes(cache: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    placed = _place(MODULATOR, cache)
    calls = []

    def counting_sha256(*args: bytes):
        calls.append(1)
        return hashlib.sha256(*args)

    monkeypatch.setattr(weights, "hashlib", SimpleNamespace(sha256=counting_sha256))
    for _ in range(3):
        assert weights.resolve_weight(MODULATOR) == placed
    assert len(calls) == 1
    stat = placed.stat()
    os.utime(placed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert weights.resolve_weight(MODULATOR) == placed
    assert len(calls) == 2


def test_unknown_names_and_engines_are_refused(cache: Path) -> None:
    with pytest.raises(weights.StyleTransferError, match="unknown weight file"):
        weights.resolve_weight("adain/nope.pth")
    with pytest.raises(weights.StyleTransferError, match="unknown engine"):
        weights.engine_status("vgg")
