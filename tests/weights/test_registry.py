"""The registry pins the published files: hashes and sizes equal the shared copies'."""

from __future__ import annotations

from app.engine.weights import store as weights
from tests.weights.support import shared_dir


def _shared_sums() -> dict[str, str]:
    lines = (shared_dir("weights") / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split() for line in lines if line.strip())}


def test_registry_hashes_equal_shared_sha256sums() -> None:
    sums = _shared_sums()
    assert len(sums) == 14
    pinned_here = set(weights.REGISTRY) & set(sums)       # the files an engine loads
    assert len(pinned_here) == 5
    for name in pinned_here:
        assert weights.REGISTRY[name].sha256 == sums[name], name
    # Everything not in the shared folder is AdaIN's or GoogLeNet's (not obtainable here).
    assert set(weights.REGISTRY) - set(sums) == {"adain/vgg_normalised.pth", "adain/decoder.pth",
                                                 "googlenet/googlenet-1378be20.pth"}


def test_registry_sizes_equal_shared_files() -> None:
    folder = shared_dir("weights")
    for file in weights.WEIGHT_FILES:
        if file.name.startswith(("adain/", "googlenet/")):
            assert file.size is None
        else:
            assert file.size == (folder / file.name).stat().st_size, file.name


def test_adain_entries_are_the_published_release() -> None:
    vgg = weights.REGISTRY["adain/vgg_normalised.pth"]
    assert vgg.url == ("https://github.com/naoto0804/pytorch-AdaIN/releases/download/v0.0.0/"
                       "vgg_normalised.pth")
    assert vgg.sha256 == "804ca2835ecf7539f0cd2a7ac3c18ce81e6f8468969ae7117ac0c148d286bb4a"
    assert weights.REGISTRY["adain/decoder.pth"].sha256 == (
        "379ca41d59f3a37eed3599bbbc2560c19da5c458870a5ffd3a9dd41aa88f9472")


def test_urls_are_https_and_pinned_to_a_commit() -> None:
    for file in weights.WEIGHT_FILES:
        assert file.url.startswith("https://") and file.url.endswith("/" + file.basename)
        if file.name.startswith("microast/"):
            assert "/EndyWon/MicroAST/d2796c7d" in file.url and "/models/" in file.url
        if file.name.startswith("cd16x_wct/"):
            folder = "wct_se_16x_new/" if "SE" in file.basename else "wct_se_16x_new_sd/"
            assert "/Collaborative-Distillation/75c1b81c" in file.url and folder in file.url


def test_engines_map_to_the_files_they_load() -> None:
    from app.engine.registry import ENGINES, engines_using, get_engine

    assert get_engine("adain").weights == ("adain/vgg_normalised.pth", "adain/decoder.pth")
    assert get_engine("gatys").weights == ("adain/vgg_normalised.pth",)
    assert len(get_engine("microast").weights) == 4
    assert get_engine("gatys-lite").weights == ("cd16x_wct/5SE.pth",)
    for spec in ENGINES:   # every file an engine names is pinned
        assert all(name in weights.REGISTRY for name in spec.weights), spec.name
    assert engines_using("adain/vgg_normalised.pth") == ("adain", "gatys", "deepdream")


def test_basenames_are_unique_so_flat_folders_are_unambiguous() -> None:
    basenames = [f.basename for f in weights.WEIGHT_FILES]
    assert len(set(basenames)) == len(basenames)


def test_files_for_accepts_engines_files_and_nothing() -> None:
    assert [f.name for f in weights.files_for(["gatys", "adain/decoder.pth"])] == [
        "adain/vgg_normalised.pth", "adain/decoder.pth"]
    assert len(weights.files_for([])) == len(weights.WEIGHT_FILES)
    try:
        weights.files_for(["vgg19"])
    except weights.StyleTransferError as exc:
        assert "vgg19" in str(exc) and "gatys-lite" in str(exc)
    else:
        raise AssertionError("an unknown target was accepted")


def test_engine_plugins_join_the_registry_and_may_stay_off_the_lists() -> None:
    """The test session registers its broken engines as a plugin (tests/conftest.py): they
    run by name like any engine, and are offered nowhere."""
    from app.engine.registry import BY_NAME, listed_engines, plugin_specs
    from tests.support.fault_engines import SPECS

    assert plugin_specs("tests.support.fault_engines:SPECS") == SPECS
    assert all(BY_NAME[spec.name] is spec for spec in SPECS)
    assert not {spec.name for spec in SPECS} & {spec.name for spec in listed_engines()}
    assert plugin_specs(" , ") == ()


def test_a_plugin_that_cannot_be_loaded_is_named() -> None:
    import pytest

    from app.engine.errors import StyleTransferError
    from app.engine.registry import plugin_specs

    with pytest.raises(StyleTransferError, match="'no.such.module:SPEC' cannot be loaded"):
        plugin_specs("no.such.module:SPEC")
    with pytest.raises(StyleTransferError, match="cannot be loaded"):
        plugin_specs("tests.support.fault_engines:NOTHING")
