"""Gatys optimisation on generated VGG weights: losses fall, cancel, determinism, colour."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from app.engine.color import rgb_to_ycbcr
from app.engine.errors import Cancelled, StyleTransferError
from app.engine.images import pil_to_tensor
from app.engine.methods.gatys.losses import gram_matrix
from app.engine.methods.gatys.optimise import run_gatys
from app.engine.options import StyleOptions, parse_options
from app.engine.types import Progress
from tests.support.shared import SHARED

from .conftest import media

OPTIONS = StyleOptions(engine="gatys", max_side=64, iterations=30, seed=0, device="cpu",
                       preview_every=10)


def _run(content: Image.Image, styles: list[Image.Image], weights: dict[str, Path],
         **changes) -> tuple[Image.Image, list[Progress]]:
    reports: list[Progress] = []
    options = parse_options({**OPTIONS.model_dump(), **changes})
    out = run_gatys(content, styles, options, weights, on_progress=reports.append)
    return out, reports


def test_gram_matrix_is_normalised_by_size() -> None:
    feat = torch.ones(1, 4, 3, 5)
    torch.testing.assert_close(gram_matrix(feat), torch.full((1, 4, 4), 1 / 4))


def test_style_loss_falls_more_than_tenfold(adain_weights: dict[str, Path],
                                            content: Image.Image, style: Image.Image) -> None:
    out, reports = _run(content, [style], adain_weights)
    assert [r.message for r in reports[:2]] == ["iteration 1 of 30", "iteration 2 of 30"]
    assert len(reports) == 30 and reports[-1].fraction == 1.0
    first, last = reports[0].extras, reports[-1].extras
    assert last["style_loss"] < first["style_loss"] / 10
    # content init: the content loss starts at 0 and stays bounded (features average ~1-2)
    assert first["content_loss"] < 1e-6 and last["content_loss"] < 5.0
    previews = [r.preview for r in reports if r.preview is not None]
    assert len(previews) == 3 and previews[0].size == out.size == content.size


def test_noise_init_and_adam_also_reduce_the_style_loss(
        adain_weights: dict[str, Path], content: Image.Image, style: Image.Image) -> None:
    _, reports = _run(content, [style], adain_weights, optimizer="adam", init="noise",
                      iterations=30)
    assert reports[-1].extras["style_loss"] < reports[0].extras["style_loss"] / 3


def test_cancel_stops_within_one_iteration(adain_weights: dict[str, Path],
                                           content: Image.Image, style: Image.Image) -> None:
    cancel = threading.Event()
    seen: list[int] = []

    def on_progress(progress: Progress) -> None:
        seen.append(len(seen) + 1)
        if len(seen) == 3:
            cancel.set()

    with pytest.raises(Cancelled):
        run_gatys(content, [style], OPTIONS, adain_weights, on_progress=on_progress,
                  cancel=cancel)
    assert seen == [1, 2, 3]


def test_deterministic_for_a_fixed_seed(adain_weights: dict[str, Path],
                                        content: Image.Image, style: Image.Image) -> None:
    first, _ = _run(content, [style], adain_weights, init="noise", iterations=3, seed=7)
    again, _ = _run(content, [style], adain_weights, init="noise", iterations=3, seed=7)
    other, _ = _run(content, [style], adain_weights, init="noise", iterations=3, seed=8)
    assert np.array_equal(np.asarray(first), np.asarray(again))
    assert not np.array_equal(np.asarray(first), np.asarray(other))


def test_coarse_to_fine_and_two_styles(adain_weights: dict[str, Path], content: Image.Image,
                                       style: Image.Image, style2: Image.Image) -> None:
    out, reports = _run(content, [style, style2], adain_weights, coarse_to_fine=True,
                        iterations=10, style_weights=(2.0, 1.0))
    assert out.size == content.size
    assert [r.message for r in reports][-1] == "iteration 10 of 10"
    assert all(0 < r.fraction <= 1 for r in reports)


def _chroma(image: Image.Image) -> torch.Tensor:
    chroma = rgb_to_ycbcr(pil_to_tensor(image))[:, 1:].flatten(2)
    return torch.cat([chroma.mean(2), chroma.std(2)], dim=1)[0]


def test_preserve_color_keeps_the_content_chroma(
        adain_weights: dict[str, Path], content: Image.Image) -> None:
    coffee = media("coffee.png", 64)       # warm browns and reds against a bluish astronaut
    kept, _ = _run(content, [coffee], adain_weights, preserve_color=True, iterations=15)
    plain, _ = _run(content, [coffee], adain_weights, iterations=15)
    want, style_chroma = _chroma(content), _chroma(coffee)
    assert (_chroma(kept) - want).abs().max() < 0.015
    assert (_chroma(kept) - style_chroma).abs().max() > 0.05
    assert (_chroma(plain) - want).abs().max() > 3 * (_chroma(kept) - want).abs().max()


def test_bad_options_are_style_transfer_errors(adain_weights: dict[str, Path],
                                               content: Image.Image, style: Image.Image) -> None:
    for changes, message in (({"optimizer": "sgd"}, "optimizer must be one of"),
                             ({"init": "zeros"}, "start image must be one of"),
                             ({"iterations": 0}, "iterations must be at least 1"),
                             ({"style_weight": -1.0}, "style weight must be at least 0"),
                             ({"max_side": 16}, "too small")):
        with pytest.raises(StyleTransferError, match=message):
            _run(content, [style], adain_weights, **changes)
    with pytest.raises(StyleTransferError, match="at least one style"):
        _run(content, [], adain_weights)
    with pytest.raises(StyleTransferError, match="no pixels"):
        _run(Image.new("RGB", (0, 0)), [style], adain_weights)
    with pytest.raises(StyleTransferError, match="feature network"):
        run_gatys(content, [style], OPTIONS, adain_weights, feature_net="vgg16")


def test_gatys_lite_on_the_real_pruned_vgg(content: Image.Image, style: Image.Image) -> None:
    path = SHARED / "weights" / "cd16x_wct" / "5SE.pth"
    if not path.is_file():
        pytest.fail(f"{path} is missing; the tests need ../shared/weights")
    reports: list[Progress] = []
    run_gatys(content, [style], OPTIONS.model_copy(update={"iterations": 20}),
              {"cd16x_wct/5SE.pth": path}, on_progress=reports.append, feature_net="cd16x")
    assert reports[-1].extras["style_loss"] < reports[0].extras["style_loss"] / 2
