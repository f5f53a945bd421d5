"""A model paints pictures: through the engines' front door as the engine whose spec takes a
model, tiles that agree with the whole picture, a mix of its styles, the strength slider and
its instant preview, and refusals in words."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from app.engine.dispatch import make_frame_stylizer, stylize_image
from app.engine.errors import StyleTransferError
from app.engine.images import pil_to_tensor
from app.engine.methods.trained import SPEC
from app.engine.methods.trained.network import one_style
from app.engine.methods.trained.stylizer import TrainedStylizer
from app.engine.options import StyleOptions
from app.engine.strength_preview import render, stylize_keeping_state
from app.engine.weights.store import WeightStore
from tests.support.fast_models import photo_tensors, seeded_network, write_model


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return write_model(tmp_path / "m.safetensors", width=8, blocks=1, styles=2, seed=5)


def _options(model: Path, **values: object) -> StyleOptions:
    return StyleOptions(engine=SPEC.name, device="cpu", model_path=str(model), **values)


def _store(tmp_path: Path) -> WeightStore:
    return WeightStore(cache_dir=tmp_path / "cache")


def test_a_picture_is_painted_by_the_model_network(model: Path, tmp_path: Path) -> None:
    from PIL import Image

    photo = Image.new("RGB", (100, 60), (200, 120, 40))
    photo.paste((20, 40, 200), (30, 10, 70, 50))
    result = stylize_image(photo, [], _options(model, style_weights=(0.0, 1.0), size=96),
                           _store(tmp_path))
    assert result.size == (96, 56)
    net = seeded_network(width=8, blocks=1, styles=2, seed=5)
    x = pil_to_tensor(photo.resize((96, 56), Image.Resampling.LANCZOS))
    with torch.no_grad():
        expected = net(x, one_style(1, 2))
    assert (pil_to_tensor(result) - expected).abs().max() < 2 / 255


def test_tiles_agree_with_the_whole_picture(model: Path) -> None:
    stylizer = TrainedStylizer([], _options(model, style_weights=(1.0, 2.0)), {})
    frames = torch.rand(1, 3, 300, 420)
    whole = stylizer.stylize_frames(frames)
    tiled = stylizer.stylize_tiled(frames, tile_side=128)
    assert tiled.shape == whole.shape
    assert float((whole - tiled).abs().max()) < 1e-4


def test_a_mix_of_styles_differs_from_each_alone(model: Path) -> None:
    frames = torch.stack(photo_tensors(1, (64, 48)))
    paint = {w: TrainedStylizer([], _options(model, style_weights=w), {}).stylize_frames(frames)
             for w in ((1.0, 0.0), (0.0, 1.0), (1.0, 1.0))}
    assert float((paint[(1.0, 0.0)] - paint[(0.0, 1.0)]).abs().mean()) > 0.01
    assert float((paint[(1.0, 1.0)] - paint[(1.0, 0.0)]).abs().mean()) > 0.005


def test_the_strength_blends_with_the_photo_and_its_preview_agrees(model: Path,
                                                                  tmp_path: Path) -> None:
    from PIL import Image

    photo = Image.new("RGB", (64, 48), (30, 160, 90))
    full = pil_to_tensor(stylize_image(photo, [], _options(model, size=64), _store(tmp_path)))
    none = pil_to_tensor(stylize_image(photo, [], _options(model, size=64, alpha=0.0),
                                       _store(tmp_path)))
    assert (none - pil_to_tensor(photo)).abs().max() <= 1 / 255
    result, state = stylize_keeping_state(photo, [], _options(model, size=64, alpha=0.4),
                                          _store(tmp_path))
    assert state is not None
    for alpha in (0.4, 1.0, 0.0):
        rendered = pil_to_tensor(render(state, SPEC.name, alpha, {}))
        expected = alpha * full + (1 - alpha) * pil_to_tensor(photo)
        assert (rendered - expected).abs().max() <= 2 / 255, alpha
    assert (pil_to_tensor(result) - 0.4 * full - 0.6 * pil_to_tensor(photo)).abs().max() \
        <= 2 / 255


def test_refusals_say_what_to_do(model: Path, tmp_path: Path) -> None:
    from PIL import Image

    photo = Image.new("RGB", (32, 32))
    with pytest.raises(StyleTransferError, match="give no style images"):
        make_frame_stylizer([photo], _options(model), _store(tmp_path))
    with pytest.raises(StyleTransferError, match="3 style weights given for a model of 2"):
        make_frame_stylizer([], _options(model, style_weights=(1, 1, 1)), _store(tmp_path))
    with pytest.raises(StyleTransferError, match="choose a trained model"):
        make_frame_stylizer([], StyleOptions(engine=SPEC.name, device="cpu"), _store(tmp_path))
    (tmp_path / "x.pth").write_bytes(b"\x80\x02}q\x00.")
    with pytest.raises(StyleTransferError, match="pickle"):
        make_frame_stylizer([], _options(tmp_path / "x.pth"), _store(tmp_path))
