"""Resolving weights: search order, flat and nested layouts, corrupt copies, the hash cache,
the weights bundled with the package."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest

from app.engine.weights import store as weights
from app.storage import sha256_file
from app.engine.errors import StyleTransferError, WeightsMissingError
from app.engine.weights.store import WeightStore
from tests.weights.support import shared_dir

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


def test_nested_layout_in_the_cache_resolves(cache: Path, store: WeightStore) -> None:
    placed = _place(MODULATOR, cache)
    assert store.resolve(MODULATOR) == placed


def test_flat_layout_resolves(cache: Path, store: WeightStore) -> None:
    placed = _place(MODULATOR, cache, flat=True)
    assert placed.parent == cache
    assert store.resolve(MODULATOR) == placed


def test_weights_dir_is_searched_before_the_cache(cache: Path, tmp_path: Path,
                                                  store: WeightStore) -> None:
    in_cache = _place(MODULATOR, cache)
    in_dir = _place(MODULATOR, tmp_path / "mine", flat=True)
    assert store.resolve(MODULATOR) == in_cache
    mine = dataclasses.replace(store, weights_dir=tmp_path / "mine")
    assert mine.search_dirs() == [("folder", tmp_path / "mine"), ("cache", cache)]
    assert mine.resolve(MODULATOR) == in_dir
    assert mine.locate(weights.REGISTRY[MODULATOR]).source == "folder"


def test_corrupt_copy_is_passed_over_for_a_good_one(cache: Path, tmp_path: Path,
                                                    store: WeightStore) -> None:
    _corrupt_copy(MODULATOR, tmp_path / "mine")
    good = _place(MODULATOR, cache)
    assert dataclasses.replace(store, weights_dir=tmp_path / "mine").resolve(MODULATOR) == good


def test_corrupt_only_copy_raises_naming_the_mismatch(cache: Path, store: WeightStore) -> None:
    bad = _corrupt_copy(MODULATOR, cache)
    with pytest.raises(WeightsMissingError) as caught:
        store.resolve(MODULATOR)
    message = str(caught.value)
    assert "corrupt (SHA-256 mismatch)" in message and str(bad) in message
    assert store.locate(weights.REGISTRY[MODULATOR]).state == "corrupt"


def test_wrong_size_counts_as_corrupt(cache: Path, store: WeightStore) -> None:
    target = _place(MODULATOR, cache)
    with target.open("ab") as stream:
        stream.write(b"x")
    assert store.locate(weights.REGISTRY[MODULATOR]).state == "corrupt"


def test_missing_file_raises_naming_file_and_folders(cache: Path, store: WeightStore) -> None:
    with pytest.raises(WeightsMissingError) as caught:
        store.resolve("adain/decoder.pth")
    message = str(caught.value)
    assert "adain/decoder.pth is missing" in message and str(cache) in message


def test_shared_folder_as_weights_dir_makes_microast_and_gatys_lite_ready(
        store: WeightStore) -> None:
    assert not store.engine_ready("microast")
    shared = dataclasses.replace(store, weights_dir=shared_dir("weights"))
    status = shared.engine_status("microast")
    assert status.ready and status.missing == ()
    assert status.label == "Fast"
    assert status.detail == f"weights verified ({shared_dir('weights') / 'microast'})"
    assert shared.engine_ready("gatys-lite")
    adain = shared.engine_status("adain")
    assert not adain.ready
    assert adain.detail == "missing adain/vgg_normalised.pth; missing adain/decoder.pth"
    assert adain.missing == ("adain/vgg_normalised.pth", "adain/decoder.pth")


def test_bundled_weights_make_microast_and_gatys_lite_ready_with_nothing_installed(
        cache: Path) -> None:
    store = WeightStore(cache_dir=cache)        # bundled weights on (the default)
    assert [s for s, _ in store.search_dirs()] == ["cache", "bundled"]
    for engine in ("microast", "gatys-lite"):
        status = store.engine_status(engine)
        assert status.ready and status.detail == "weights verified (bundled with dreamgen)"
    assert not store.engine_ready("adain") and not store.engine_ready("gatys")
    found = store.locate(weights.REGISTRY["cd16x_wct/5SE.pth"])
    assert found.source == "bundled" and found.path.is_relative_to(weights.bundled_dir())
    # Only what an engine loads is pinned, and only the small ones ship in the package.
    assert "cd16x_wct/1SE.pth" not in weights.REGISTRY
    assert store.locate(weights.REGISTRY["adain/decoder.pth"]).state == "missing"
    assert {f.name for f in weights.WEIGHT_FILES if f.bundled} == {
        *[f"microast/{p}_iter_160000.pth.tar" for p in
          ("content_encoder", "style_encoder", "modulator", "decoder")], "cd16x_wct/5SE.pth"}


def test_a_copy_in_the_cache_wins_over_the_bundled_one(cache: Path) -> None:
    placed = _place(MODULATOR, cache)
    assert WeightStore(cache_dir=cache).resolve(MODULATOR) == placed


def test_bundled_files_are_the_pinned_ones_with_their_licences() -> None:
    folder = weights.bundled_dir()
    for file in weights.WEIGHT_FILES:
        if file.bundled:
            assert weights.is_intact(folder / file.name, file), file.name
    for model in ("microast", "cd16x_wct"):
        assert "MIT License" in (folder / model / "LICENSE").read_text()
    assert "SHA-256" in (folder / "SOURCES.md").read_text()


def test_auto_engine_falls_back_to_microast_without_adain_weights(cache: Path) -> None:
    from app.engine.dispatch import resolve_engine

    store = WeightStore(cache_dir=cache)
    assert resolve_engine("auto", store).name == "microast"
    assert [s.name for s in store.statuses()] == ["microast", "adain", "gatys-lite", "gatys",
                                                  "deepdream"]


def test_report_lists_every_file_with_its_state(cache: Path, store: WeightStore) -> None:
    _place(MODULATOR, cache)
    (cache / "adain").mkdir(parents=True)
    (cache / "adain" / "vgg_normalised.pth").write_bytes(b"not the published encoder")
    states = {s.file.name: s for s in store.report()}
    assert len(states) == len(weights.WEIGHT_FILES)
    assert states[MODULATOR].state == "verified" and states[MODULATOR].path == cache / MODULATOR
    assert states["adain/vgg_normalised.pth"].state == "corrupt"
    assert states["adain/decoder.pth"].state == "missing" and states["adain/decoder.pth"].path is None


def test_hashes_are_remembered_until_the_file_changes(cache: Path, store: WeightStore,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    placed = _place(MODULATOR, cache)
    calls = []

    def counting_sha256(path: Path) -> str:
        calls.append(1)
        return sha256_file(path)

    monkeypatch.setattr(weights, "sha256_file", counting_sha256)
    for _ in range(3):
        assert store.resolve(MODULATOR) == placed
    assert len(calls) == 1
    stat = placed.stat()
    os.utime(placed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert store.resolve(MODULATOR) == placed
    assert len(calls) == 2


def test_unknown_names_and_engines_are_refused(store: WeightStore) -> None:
    with pytest.raises(StyleTransferError, match="unknown weight file"):
        store.resolve("adain/nope.pth")
    with pytest.raises(StyleTransferError, match="unknown engine"):
        store.engine_status("vgg")


def test_the_store_comes_from_the_settings_it_is_given(tmp_path: Path) -> None:
    from app.settings import Settings

    settings = Settings(data_dir=tmp_path, weights_dir=tmp_path / "w",
                        weights_cache_dir=tmp_path / "c", offline=True,
                        weights_mirror="file:///mirror")
    store = WeightStore.from_settings(settings)
    assert (store.weights_dir, store.cache_dir, store.offline, store.mirror) == (
        tmp_path / "w", tmp_path / "c", True, "file:///mirror")
