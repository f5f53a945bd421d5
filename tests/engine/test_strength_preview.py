"""Strength previews re-render a fast-engine picture by its decoder alone: at the run's own
strength they give back the result (within a grey level: the kept features are fp16), at 0
the content as the engine itself reconstructs it, and the state is tensors only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from app.engine import strength_preview as sp
from app.engine.methods.adain.stylizer import AdaINStylizer
from app.engine.feedforward import stylize_single
from app.engine.methods.microast.network import WEIGHT_NAMES
from app.engine.methods.microast.stylizer import MicroASTStylizer
from app.engine.options import StyleOptions
from app.engine.weights.store import bundled_dir
from tests.engine.conftest import media

MICROAST = {name: bundled_dir() / name for name in WEIGHT_NAMES.values()}


def grey_levels(a: Image.Image, b: Image.Image) -> np.ndarray:
    assert a.size == b.size
    return np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int))


def run(engine: str, weights: dict[str, Path], content: Image.Image, style: Image.Image,
        **options: object) -> tuple[Image.Image, sp.State | None]:
    """The engine's own run (as a job makes a picture), keeping the state."""
    opts = StyleOptions(engine=engine, device="cpu", **options)
    stylizer_class = MicroASTStylizer if engine == "microast" else AdaINStylizer
    stylizer = stylizer_class([style], opts, weights)
    stylizer.keep_for_strength_preview()
    result = stylize_single(stylizer, content, opts)
    return result, sp.capture_state(engine, stylizer, result.size, opts)


def saved_and_loaded(state: sp.State, tmp_path: Path) -> sp.State:
    path = tmp_path / "state.pt"
    sp.save_state(state, path)
    return sp.load_state(path)       # weights_only=True


@pytest.fixture(scope="module")
def photos() -> tuple[Image.Image, Image.Image]:
    return media("astronaut.png", 160), media("hubble_deep_field.jpg", 160)


@pytest.mark.parametrize("alpha,preserve", [(0.6, False), (1.0, False), (0.4, True)])
def test_microast_at_its_own_strength_is_the_result(photos, tmp_path: Path, alpha: float,
                                                    preserve: bool) -> None:
    content, style = photos
    result, state = run("microast", MICROAST, content, style, alpha=alpha, size=160,
                        preserve_color=preserve)
    again = sp.render(saved_and_loaded(state, tmp_path), "microast", alpha,
                      MICROAST)
    assert grey_levels(result, again).max() <= 1


def test_microast_at_zero_reconstructs_the_content_as_the_engine_does(photos,
                                                                      tmp_path: Path) -> None:
    content, style = photos
    _, state = run("microast", MICROAST, content, style, alpha=0.8, size=160)
    engine_at_zero, _ = run("microast", MICROAST, content, style, alpha=0.0, size=160)
    preview = sp.render(saved_and_loaded(state, tmp_path), "microast", 0.0,
                        MICROAST)
    assert grey_levels(engine_at_zero, preview).max() <= 1
    original = np.asarray(content.resize(preview.size, Image.Resampling.LANCZOS), dtype=float)
    assert np.abs(np.asarray(preview, dtype=float) - original).mean() / 255 < 0.1


@pytest.mark.parametrize("alpha,preserve", [(0.5, False), (0.7, True)])
def test_adain_at_its_own_strength_is_the_result(photos, adain_weights, tmp_path: Path,
                                                 alpha: float, preserve: bool) -> None:
    content, style = photos
    result, state = run("adain", adain_weights, content, style, alpha=alpha, size=128,
                        preserve_color=preserve)
    again = sp.render(saved_and_loaded(state, tmp_path), "adain", alpha,
                      adain_weights)
    assert grey_levels(result, again).max() <= 1


def test_adain_at_zero_decodes_the_content_features_as_the_engine_does(
        photos, adain_weights, tmp_path: Path) -> None:
    content, style = photos
    _, state = run("adain", adain_weights, content, style, alpha=0.9, size=128)
    engine_at_zero, _ = run("adain", adain_weights, content, style, alpha=0.0, size=128)
    preview = sp.render(saved_and_loaded(state, tmp_path), "adain", 0.0,
                        adain_weights)
    assert grey_levels(engine_at_zero, preview).max() <= 1


def test_the_state_is_small_tensors_only(photos, tmp_path: Path) -> None:
    content, style = photos
    _, state = run("microast", MICROAST, content, style, alpha=0.5, size=160,
                   preserve_color=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    assert state["deep"].dtype == torch.float16           # most of the bytes, halved
    assert state["content"].dtype == torch.uint8          # colours kept: the chroma source
    path = tmp_path / "state.pt"
    sp.save_state(state, path)
    assert path.stat().st_size < 300_000                  # 160 x 128 px
    torch.save({"not": "a state"}, tmp_path / "bad.pt")
    with pytest.raises(ValueError):
        sp.load_state(tmp_path / "bad.pt")


def test_a_tiled_picture_keeps_no_state(photos) -> None:
    content, style = photos
    # tile_megapixels forces tiles: their features never exist whole
    _, state = run("microast", MICROAST, content, style, alpha=0.5, size=160,
                   tile_megapixels=0.01)
    assert state is None


def test_a_quick_preview_is_a_smaller_render_of_the_same_picture(photos, adain_weights) -> None:
    content, style = photos
    result, state = run("adain", adain_weights, content, style, alpha=0.5, size=128)
    factor = 2
    small = sp.render(sp.downscaled(state, "adain", factor), "adain", 0.5,
                      adain_weights)
    assert small.size == (result.width // factor, result.height // factor)
    shrunk = result.resize(small.size, Image.Resampling.BOX)
    assert grey_levels(shrunk, small).mean() < 16      # the same picture, coarser (~9)
    assert sp.preview_factor(state, "adain") == 1      # 128 px needs no shrinking
    assert sp.preview_factor({"size": torch.tensor([1024, 1024])}, "adain") == 4
