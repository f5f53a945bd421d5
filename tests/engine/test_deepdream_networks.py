"""Deep Dream's networks: the registry entry, optional weights found by the store, ``auto``
picking the best installed network, and GoogLeNet loaded from a checkpoint written in the
exact published layout of torchvision's ``googlenet-1378be20.pth`` (seeded values: the real
file is not on this machine), then dreamed with.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from app.engine.dispatch import stylize_image
from app.engine.errors import WeightsMissingError
from app.engine.images import pil_to_tensor
from app.engine.methods.deepdream.dream import dream_image
from app.engine.methods.deepdream.networks import (
    GOOGLENET,
    PRUNED_VGG19,
    VGG19,
    choose_network,
    load_feature_net,
)
from app.engine.networks.googlenet import TAPS, build_googlenet, load_googlenet
from app.engine.options import StyleOptions
from app.engine.registry import engines_using, get_engine
from app.engine.weights import store as weights_module
from app.engine.weights.checkpoints import load_strict
from app.engine.weights.store import WeightStore, bundled_dir
from tests.support.checkpoints import (
    write_adain_checkpoints,
    write_googlenet_checkpoint,
)

from .conftest import media

PRUNED = {PRUNED_VGG19.weight: bundled_dir() / PRUNED_VGG19.weight}


@pytest.fixture(scope="module")
def googlenet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("googlenet")
    return write_googlenet_checkpoint(folder)[GOOGLENET.weight]


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_adain_checkpoints(tmp_path_factory.mktemp("vgg"))[VGG19.weight]


def trusting(store: WeightStore, files: dict[str, Path]) -> WeightStore:
    """``store`` with the pins of ``files`` swapped for the generated files' hashes."""
    pins = tuple(replace(f, sha256=weights_module.file_sha256(files[f.name]))
                 if f.name in files else f for f in store.pins)
    return replace(store, pins=pins)


def test_the_registry_entry() -> None:
    spec = get_engine("deepdream")
    assert (spec.label, spec.mode, spec.iterative, spec.needs_style) == (
        "Deep Dream", "dream", True, False)
    assert spec.weights == ("cd16x_wct/5SE.pth",) and spec.auto_rank is None
    assert spec.optional_weights == (GOOGLENET.weight, VGG19.weight)
    assert spec.image_entry == "app.engine.methods.deepdream.dream:dream_image"
    assert spec.takes_video  # clips dream frame by frame, warped along the flow
    for name in spec.optional_weights:
        assert name in weights_module.REGISTRY
        assert "deepdream" in engines_using(name)
    googlenet = weights_module.REGISTRY[GOOGLENET.weight]
    assert googlenet.url == "https://download.pytorch.org/models/googlenet-1378be20.pth"
    assert googlenet.sha256.startswith("1378be20") and len(googlenet.sha256) == 64
    assert [f.name for f in weights_module.files_for(["deepdream"])] == [
        VGG19.weight, "cd16x_wct/5SE.pth", GOOGLENET.weight]


def test_optional_weights_are_given_only_when_verified(tmp_path: Path,
                                                       googlenet_file: Path) -> None:
    bare = WeightStore(cache_dir=tmp_path / "cache")
    assert bare.engine_ready("deepdream")                        # bundled pruned VGG-19
    assert set(bare.engine_paths("deepdream")) == {"cd16x_wct/5SE.pth"}
    store = trusting(replace(bare, weights_dir=googlenet_file.parents[1]),
                     {GOOGLENET.weight: googlenet_file})
    assert store.engine_paths("deepdream")[GOOGLENET.weight] == googlenet_file
    untrusted = replace(bare, weights_dir=googlenet_file.parents[1])   # hash is the real one
    assert set(untrusted.engine_paths("deepdream")) == {"cd16x_wct/5SE.pth"}


def test_auto_takes_the_best_installed_network_and_a_named_one_must_be_there() -> None:
    pruned, vgg, googlenet = (net.weight for net in (PRUNED_VGG19, VGG19, GOOGLENET))
    given = {pruned: Path("a"), vgg: Path("b"), googlenet: Path("c")}
    assert choose_network("auto", given) is GOOGLENET
    assert choose_network("auto", {pruned: Path("a"), vgg: Path("b")}) is VGG19
    assert choose_network("auto", {pruned: Path("a")}) is PRUNED_VGG19
    assert choose_network("vgg19", given) is VGG19
    with pytest.raises(WeightsMissingError) as caught:
        choose_network("googlenet", {pruned: Path("a")})
    assert googlenet in str(caught.value) and "not installed" in str(caught.value)


def test_generated_googlenet_checkpoint_has_the_published_layout(googlenet_file: Path) -> None:
    state = torch.load(googlenet_file, map_location="cpu", weights_only=True)
    reference = build_googlenet().state_dict()
    assert list(state) == list(reference) and len(state) == 364
    assert any(k.startswith("aux1.") for k in state) and "fc.weight" in state
    for key, value in reference.items():
        assert state[key].shape == value.shape and state[key].dtype == value.dtype, key
    assert state["conv1.bn.num_batches_tracked"].dtype == torch.int64
    assert sum(v.numel() * v.element_size() for v in state.values()) == 52_080_312


def test_googlenet_loads_strictly_and_a_wrong_file_is_refused(googlenet_file: Path,
                                                              tmp_path: Path) -> None:
    net = load_googlenet(googlenet_file)
    assert not any(p.requires_grad for p in net.parameters()) and not net.training
    feats = net.encode(torch.rand(1, 3, 128, 160), TAPS)
    assert feats["conv3"].shape[-2:] == (32, 40) and feats["inception3b"].shape[1] == 480
    assert feats["inception4e"].shape[-2:] == (8, 10)
    assert feats["inception5b"].shape[1:] == (1024, 4, 5)
    assert all(torch.isfinite(f).all() for f in feats.values())
    with pytest.raises(WeightsMissingError, match="not a torchvision GoogLeNet"):
        load_strict(build_googlenet(), PRUNED[PRUNED_VGG19.weight], "torchvision GoogLeNet",
                    key="model")
    empty = tmp_path / "googlenet-1378be20.pth"
    empty.write_bytes(b"")
    with pytest.raises(WeightsMissingError, match="cannot be read"):
        load_googlenet(empty)


@pytest.mark.parametrize("network", ["googlenet", "vgg19"])
def test_a_short_dream_on_each_optional_network(network: str, googlenet_file: Path,
                                                vgg_file: Path) -> None:
    weights = {**PRUNED, GOOGLENET.weight: googlenet_file, VGG19.weight: vgg_file}
    photo, guide = media("coffee.png", 96), media("brick.png", 96)
    options = StyleOptions(max_side=96, octaves=2, dream_iterations=3, network=network,
                           depth="shapes")
    for styles in ([], [guide]):
        dream = dream_image(photo, styles, options, weights)
        before, after = pil_to_tensor(photo.resize(dream.size)), pil_to_tensor(dream)
        assert dream.size == (96, 64)
        assert float((after - before).abs().mean()) > 0.01           # it dreamed something
    assert load_feature_net(choose_network(network, weights), weights, torch.device("cpu"))


def test_the_dispatcher_dreams_with_auto_on_the_best_installed_network(
        tmp_path: Path, googlenet_file: Path) -> None:
    photo = media("chelsea.png", 96)
    options = StyleOptions(engine="deepdream", max_side=96, octaves=2, dream_iterations=3)
    bare = WeightStore(cache_dir=tmp_path / "cache")
    with_googlenet = trusting(replace(bare, weights_dir=googlenet_file.parents[1]),
                              {GOOGLENET.weight: googlenet_file})
    pruned = np.asarray(stylize_image(photo, [], options, bare))
    auto = np.asarray(stylize_image(photo, [], options, with_googlenet))
    named = np.asarray(stylize_image(photo, [], options.model_copy(
        update={"network": "googlenet"}), with_googlenet))
    assert np.array_equal(auto, named) and not np.array_equal(auto, pruned)
    with pytest.raises(WeightsMissingError, match="googlenet-1378be20.pth"):
        stylize_image(photo, [], options.model_copy(update={"network": "googlenet"}), bare)
