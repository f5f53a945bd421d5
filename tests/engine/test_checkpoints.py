"""One loader, one error policy: a truncated, foreign or empty checkpoint given by explicit
path is a weights error naming the file, never an internal error."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from app.engine.errors import WeightsMissingError
from app.engine.methods.microast.network import WEIGHT_NAMES
from app.engine.methods.microast.stylizer import MicroASTStylizer
from app.engine.options import StyleOptions
from app.engine.networks.pruned_vgg import load_pruned_encoders
from app.engine.networks.vgg import load_vgg_encoder
from app.engine.weights.store import bundled_dir


def _truncated(source: Path, folder: Path, fraction: float = 0.5) -> Path:
    data = source.read_bytes()
    target = folder / f"cut-{source.name}"
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


def test_a_truncated_microast_checkpoint_is_a_weights_error(tmp_path: Path) -> None:
    weights = {name: bundled_dir() / name for name in WEIGHT_NAMES.values()}
    decoder = WEIGHT_NAMES["decoder"]
    weights[decoder] = _truncated(weights[decoder], tmp_path)
    with pytest.raises(WeightsMissingError, match="cannot be read: the file is damaged"):
        MicroASTStylizer([Image.new("RGB", (32, 32))], StyleOptions(device="cpu"), weights)


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.5, 0.99])
def test_a_truncated_pruned_vgg_is_a_weights_error(tmp_path: Path, fraction: float) -> None:
    cut = _truncated(bundled_dir() / "cd16x_wct/5SE.pth", tmp_path, fraction)
    with pytest.raises(WeightsMissingError, match=cut.name):
        load_pruned_encoders("cpu", cut)


def test_files_that_are_no_state_dict_are_weights_errors(tmp_path: Path) -> None:
    listing = tmp_path / "list.pth"
    torch.save([1, 2, 3], listing)
    with pytest.raises(WeightsMissingError, match="holds no state dict"):
        load_vgg_encoder(listing)
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    with pytest.raises(WeightsMissingError, match="damaged or truncated"):
        load_vgg_encoder(text)
    with pytest.raises(WeightsMissingError, match="missing"):
        load_vgg_encoder(tmp_path / "absent.pth")
