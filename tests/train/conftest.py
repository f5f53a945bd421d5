"""Fixtures for the fast-model tests: the bundled pruned VGG-19 (the loss network), small
generated photos and a striped style, and training options small enough for two CPU cores
(a few dozen steps at 64 px on a network of width 8)."""

from __future__ import annotations

import pytest

from app.engine.methods.trained.photos import PhotoSet
from app.engine.methods.trained.train_options import TrainOptions
from app.engine.networks.pruned_vgg import PrunedVGG, load_pruned_encoders
from tests.support.fast_models import photo_tensors
from tests.support.shared import SHARED

TINY = dict(size=64, width=8, blocks=1, batch=2, style_size=128, learning_rate=1e-2)


@pytest.fixture(scope="session")
def vgg() -> PrunedVGG:
    return load_pruned_encoders("cpu", SHARED / "weights" / "cd16x_wct" / "5SE.pth")


@pytest.fixture(scope="session")
def photos() -> PhotoSet:
    return PhotoSet(photo_tensors(4))


def tiny_options(**overrides: object) -> TrainOptions:
    return TrainOptions(**{**TINY, **overrides})
