"""The networks Deep Dream can dream with, and which of their layers each depth means.

Deep Dream amplifies whatever a layer responds to (Mordvintsev et al., "Inceptionism", 2015,
their figure of layers from low to high): shallow layers give strokes and textures, middle
layers patterns and eyes, deep layers whole shapes and objects. ``depth`` names that in plain
words and each network maps it to its own layers:

==============  ============  ==========  ============  ============
depth           textures      patterns    shapes        objects
==============  ============  ==========  ============  ============
pruned VGG-19   relu2_2       relu3_3     relu4_2       relu5_1
VGG-19          relu2_2       relu3_4     relu4_3       relu5_3
GoogLeNet       conv3         inception3b inception4c   inception4e
==============  ============  ==========  ============  ============

(GoogLeNet's inception4c is the layer of the original blog post's famous pictures; the
pruned VGG-19 stops at relu5_1.)

``network="auto"`` takes the best one installed: GoogLeNet, else the full VGG-19, else the
16x-pruned VGG-19 that ships with dreamgen (always there). Torch is imported only to load
a network, so the web layer reads this table without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Container, Mapping, Protocol

from app.engine.errors import StyleTransferError, WeightsMissingError
from app.engine.methods import deepdream as files  # the spec's weight-file pins

if TYPE_CHECKING:      # torch-free at import: the web layer checks networks before a job
    import torch

    from app.engine.weights.store import WeightStore

DEPTHS = ("textures", "patterns", "shapes", "objects")


class FeatureNet(Protocol):
    def encode(self, x: torch.Tensor, taps: tuple[str, ...]) -> dict[str, torch.Tensor]: ...


@dataclass(frozen=True)
class DreamNet:
    """One network: its registry weight file and the layers each depth dreams with."""

    name: str
    label: str             # in plain words, for people
    weight: str
    depth_taps: Mapping[str, tuple[str, ...]]
    min_side: int          # smallest input side its deepest layer still accepts
    stride: int            # total downscaling to its deepest layer (tiles align to it)
    effects: Mapping[str, str]     # what each depth grows on this network, in plain words

    def taps(self, depth: str) -> tuple[str, ...]:
        """The layers ``depth`` (one of :data:`DEPTHS`) dreams with."""
        return self.depth_taps[depth]


# The effects: the bundled network's as seen in its dreams of four photos at each depth
# (docs/img/deepdream-depths.jpg, ``python -m bench.deepdream --depths``); the other two
# from the published dreams of their layers (their weights are not here to look at).
PRUNED_VGG19 = DreamNet("pruned-vgg19", "the small picture network that comes with dreamgen",
                        files.PRUNED_VGG19.name, {
    "textures": ("relu2_2",), "patterns": ("relu3_3",), "shapes": ("relu4_2",),
    "objects": ("relu5_1",)}, min_side=32, stride=16, effects={
    "textures": "fine grain, like brush strokes", "patterns": "beads and dots of colour",
    "shapes": "grids and woven blocks", "objects": "eyes and rings of eyes, no animals"})
VGG19 = DreamNet("vgg19", "the full VGG-19 picture network", files.VGG19.name, {
    "textures": ("relu2_2",), "patterns": ("relu3_4",), "shapes": ("relu4_3",),
    "objects": ("relu5_3",)}, min_side=32, stride=16, effects={
    "textures": "fine grain", "patterns": "swirls and stripes",
    "shapes": "scales, arches and eyes", "objects": "eyes and parts of animals"})
GOOGLENET = DreamNet("googlenet", "GoogLeNet, the network of the original Deep Dream pictures",
                     files.GOOGLENET.name, {
    "textures": ("conv3",), "patterns": ("inception3b",), "shapes": ("inception4c",),
    "objects": ("inception4e",)}, min_side=32, stride=16, effects={
    "textures": "fine strokes", "patterns": "swirls and simple ornaments",
    "shapes": "eyes, dog faces and arches", "objects": "whole animals and buildings"})
NETWORKS: dict[str, DreamNet] = {n.name: n for n in (PRUNED_VGG19, VGG19, GOOGLENET)}
AUTO_ORDER = ("googlenet", "vgg19", "pruned-vgg19")     # best first


def choose_network(choice: str, weights: Container[str]) -> DreamNet:
    """The network ``choice`` names (``auto``: the best one whose weights were given:
    ``weights`` holds the names of the installed weight files). Raises
    :class:`WeightsMissingError` naming the file when a named one is not installed."""
    if choice == "auto":
        for name in AUTO_ORDER:
            if NETWORKS[name].weight in weights:
                return NETWORKS[name]
        choice = "pruned-vgg19"              # not given either: the error below names it
    if choice not in NETWORKS:
        raise StyleTransferError(f"unknown network {choice!r}; choose auto, "
                                  f"{', '.join(NETWORKS)}")
    net = NETWORKS[choice]
    if net.weight not in weights:
        raise WeightsMissingError(
            f"the {choice} network needs the weight file {net.weight}, which is not installed "
            "(or failed its SHA-256 check); install it, or choose network auto or pruned-vgg19")
    return net


def network_here(choice: str, store: WeightStore) -> DreamNet:
    """The network a dream asking for ``choice`` uses with ``store``'s weights (what
    :func:`choose_network` picks in the job); raises :class:`WeightsMissingError` like it."""
    return choose_network(choice, store.engine_paths(files.SPEC))


def load_feature_net(net: DreamNet, weights: Mapping[str, Path],
                     device: torch.device) -> FeatureNet:
    """``net``'s frozen feature extractor on ``device`` (cached by its loader)."""
    import torch

    path = Path(weights[net.weight])
    if net is GOOGLENET:
        from app.engine.networks.googlenet import load_googlenet

        return load_googlenet(path, device)
    if net is VGG19:
        from app.engine.networks.vgg import load_vgg_encoder

        return load_vgg_encoder(path, device, torch.float32)
    from app.engine.networks.pruned_vgg import load_pruned_encoders

    return load_pruned_encoders(device, path)
