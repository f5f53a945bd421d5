"""Fixtures for the performance-path tests: generated AdaIN checkpoints, the real MicroAST
weights and photos from ../shared (beside the repository), and a seam measure."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from app.engine.images import load_image, pil_to_tensor, resize_to_fit
from app.engine.methods.microast.network import WEIGHT_NAMES
from app.engine.tiling import Tile
from tests.support.checkpoints import write_adain_checkpoints
from tests.support.shared import shared_file

SIDE = 256          # content size for the tiling tests (longer side, px)


def photo(name: str, side: int):
    return resize_to_fit(load_image(shared_file(f"media/{name}")), side, 8)


@pytest.fixture(scope="session")
def adain_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_adain_checkpoints(tmp_path_factory.mktemp("weights"), seed=0)


@pytest.fixture(scope="session")
def microast_weights() -> dict[str, Path]:
    return {name: shared_file(f"weights/{name}") for name in WEIGHT_NAMES.values()}


@pytest.fixture(scope="session")
def content() -> torch.Tensor:
    """The astronaut at 256 px, (1, 3, 256, 256)."""
    return pil_to_tensor(photo("astronaut.png", SIDE))


def border_lines(tiles: list[Tile], height: int, width: int) -> tuple[list[int], list[int]]:
    """Rows and columns inside the image where some tile starts or ends."""
    rows = {t.top for t in tiles} | {t.top + t.height for t in tiles}
    cols = {t.left for t in tiles} | {t.left + t.width for t in tiles}
    return sorted(r for r in rows if 0 < r < height), sorted(c for c in cols if 0 < c < width)


def cut_lines(tiles: list[Tile]) -> tuple[list[int], list[int]]:
    """Rows and columns inside the image where one tile's owned region meets the next."""
    rows = {t.top + t.own_top for t in tiles if t.top + t.own_top > 0}
    cols = {t.left + t.own_left for t in tiles if t.left + t.own_left > 0}
    return sorted(rows), sorted(cols)


def gradient_energy(image: torch.Tensor, rows: list[int], cols: list[int]) -> float:
    """Mean squared step between neighbouring pixels across the given rows (vertical steps
    ``image[r] - image[r-1]``) and columns (horizontal steps)."""
    steps = [(image[..., r, :] - image[..., r - 1, :]).square().flatten() for r in rows]
    steps += [(image[..., c] - image[..., c - 1]).square().flatten() for c in cols]
    return torch.cat(steps).mean().item()


def all_lines(height: int, width: int) -> tuple[list[int], list[int]]:
    return list(range(1, height)), list(range(1, width))
