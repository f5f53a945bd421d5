"""Fixtures for the MicroAST / pruned VGG / quality tests: the real weights and photos in
``../shared`` (beside the repository), small content images, an artifacts folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from app.engine.images import load_image, pil_to_tensor, resize_to_fit
from app.engine.methods.microast.network import WEIGHT_NAMES
from app.engine.networks.pruned_vgg import PrunedVGG, load_pruned_encoders
from tests.support.shared import SHARED

REPO = Path(__file__).resolve().parents[2]
WEIGHTS = SHARED / "weights"
MEDIA = SHARED / "media"
ARTIFACTS = REPO / "tests" / "artifacts" / "microast"
SIDE = 128          # content size for the tests (longer side, px)

CONTENTS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        pytest.fail(f"{what} not found at {path}; these tests need the real files in "
                    "../shared beside the repository (see ../shared/README.md)", pytrace=False)
    return path


@pytest.fixture(scope="session")
def microast_weights() -> dict[str, Path]:
    """The four real MicroAST checkpoints, keyed by registry name (as the dispatcher gives
    them to the engine)."""
    return {name: _require(WEIGHTS / name, f"MicroAST weights {name}")
            for name in WEIGHT_NAMES.values()}


@pytest.fixture(scope="session")
def pruned_path() -> Path:
    return _require(WEIGHTS / "cd16x_wct" / "5SE.pth", "pruned VGG-19 weights 5SE.pth")


@pytest.fixture(scope="session")
def pruned_vgg(pruned_path: Path) -> PrunedVGG:
    return load_pruned_encoders("cpu", pruned_path)


def media_image(name: str) -> Image.Image:
    return load_image(_require(MEDIA / name, f"test image {name}"))


def colourful_crop() -> Image.Image:
    """The centre of the retina photograph: saturated reds and oranges with vessels."""
    retina = media_image("retina.jpg")
    w, h = retina.size
    return retina.crop((w // 4, h // 4, 3 * w // 4, 3 * h // 4))


@pytest.fixture(scope="session")
def styles() -> dict[str, Image.Image]:
    return {"hubble": media_image("hubble_deep_field.jpg"), "ihc": media_image("ihc.png"),
            "retina_crop": colourful_crop()}


def small_tensor(image: Image.Image, side: int = SIDE) -> torch.Tensor:
    return pil_to_tensor(resize_to_fit(image, side))


@pytest.fixture(scope="session")
def contents() -> dict[str, torch.Tensor]:
    return {name.split(".")[0]: small_tensor(media_image(name)) for name in CONTENTS}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
