"""Deep Style's own settings on the real pruned VGG-19: style strength, style scale, enhance.

Measured with the engine's own losses against its own targets (content features at relu4_2,
style Gram matrices at relu1_1..relu5_1), and, for the style scale, with the dominant
horizontal period of the painted picture: a striped style painted at twice the scale gives
stripes twice as wide."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from app.engine.images import pil_to_tensor, resize_to_fit
from app.engine.methods.gatys import optimise as gatys
from app.engine.options import StyleOptions, parse_options
from tests.support.shared import SHARED

from .conftest import media

WEIGHT = "cd16x_wct/5SE.pth"


@pytest.fixture(scope="module")
def weights() -> dict[str, Path]:
    path = SHARED / "weights" / WEIGHT
    if not path.is_file():
        pytest.fail(f"{path} is missing; the tests need ../shared/weights")
    return {WEIGHT: path}


def paint(content: Image.Image, style: Image.Image, weights: dict[str, Path],
          **values: object) -> Image.Image:
    options = parse_options({"engine": "gatys-lite", "size": 128, "iterations": 60,
                             "seed": 0, "device": "cpu", **values})
    return gatys.run_gatys(content, [style], options, weights, feature_net="cd16x")


def measured_losses(out: Image.Image, content: Image.Image, style: Image.Image,
                    weights: dict[str, Path], side: int = 128) -> tuple[float, float]:
    """(style loss, content loss) of ``out`` against the targets the engine matches."""
    net = gatys.load_feature_net("cd16x", torch.device("cpu"), weights)
    full = pil_to_tensor(resize_to_fit(content, side, 8))
    style_tensor = gatys._scaled_to(style, max(full.shape[-2:]))
    targets = gatys.compute_targets(net, full, [style_tensor], [1.0])
    with torch.no_grad():
        c_loss, s_loss = gatys.losses(net, pil_to_tensor(out), targets)
    return float(s_loss), float(c_loss)


@pytest.mark.parametrize("pair", [("chelsea.png", "brick.png"), ("rocket.jpg", "gravel.png")])
def test_style_strength_trades_content_for_style_monotonically(
        weights: dict[str, Path], pair: tuple[str, str]) -> None:
    content, style = media(pair[0], 256), media(pair[1], 256)
    strengths = (0.25, 0.5, 0.75, 1.0)
    measured = [measured_losses(paint(content, style, weights, alpha=a), content, style,
                                weights) for a in strengths]
    style_losses = [s for s, _ in measured]
    content_losses = [c for _, c in measured]
    # measured, chelsea x brick: style 0.031, 0.0050, 0.0010, 0.00057;
    #                            content 0.22, 0.70, 1.77, 3.03
    assert all(a > b for a, b in zip(style_losses, style_losses[1:])), style_losses
    assert all(a < b for a, b in zip(content_losses, content_losses[1:])), content_losses
    assert style_losses[0] > 5 * style_losses[-1]


def test_style_strength_zero_is_the_photo_and_differs_from_full(
        weights: dict[str, Path]) -> None:
    """The finding: gatys-lite at 128 px, 20 iterations gave byte-identical files for
    strength 0 and 1."""
    content, style = media("astronaut.png", 256), media("hubble_deep_field.jpg", 256)
    zero = paint(content, style, weights, alpha=0.0, iterations=20)
    full = paint(content, style, weights, alpha=1.0, iterations=20)
    photo = resize_to_fit(content, 128, 8)
    assert np.array_equal(np.asarray(zero), np.asarray(photo.convert("RGB")))
    assert np.abs(np.asarray(full, float) - np.asarray(zero, float)).mean() > 10


def test_strength_weight_is_relative_to_the_photos_own_style_loss() -> None:
    assert gatys.style_weight_for(0.0, 1e4, 3.0) == 0.0
    assert gatys.style_weight_for(1.0, 1e4, 2.0) == pytest.approx(5e3)
    steps = [gatys.style_weight_for(a / 20, 1e4, 1.0) for a in range(1, 21)]
    ratios = [b / a for a, b in zip(steps[5:], steps[6:])]
    assert all(1.5 < r < 1.8 for r in ratios)      # each 0.05 of the slider: ~1.6x


def stripes(side: int, period: float) -> Image.Image:
    """Vertical sine stripes of ``period`` px, in two colours."""
    wave = 0.5 + 0.5 * np.sin(2 * np.pi * np.arange(side) / period)
    rows = np.repeat(wave[None, :], side, axis=0)
    rgb = np.stack([rows * 255, rows * 200 + 30, 255 - rows * 255], axis=-1)
    return Image.fromarray(rgb.astype(np.uint8))


def dominant_period(image: Image.Image) -> float:
    """Power-weighted mean horizontal period of the luma, in pixels (ignoring the two
    lowest frequencies, which the photo's layout owns)."""
    luma = np.asarray(image.convert("L"), dtype=np.float64)
    power = np.abs(np.fft.rfft(luma - luma.mean(), axis=1)) ** 2
    spectrum = power.mean(axis=0)
    k = np.arange(spectrum.size)
    keep = k >= 2
    return luma.shape[1] / float((k[keep] * spectrum[keep]).sum() / spectrum[keep].sum())


def test_style_scale_scales_the_brush_strokes(weights: dict[str, Path]) -> None:
    content = media("chelsea.png", 128)
    style = stripes(128, period=8)
    periods = {scale: dominant_period(paint(content, style, weights, style_scale=scale,
                                            iterations=40))
               for scale in (0.5, 1.0, 2.0)}
    # measured: 4.5, 8.8, 14.9 px for stripes of 8 px at scales 0.5, 1, 2
    for scale, period in periods.items():
        assert 0.75 < period / (8 * scale) < 1.3, periods
    assert periods[0.5] < periods[1.0] < periods[2.0]


def test_style_side_is_capped() -> None:
    assert gatys.style_side(512, 2.0) == 1024
    assert gatys.style_side(2048, 2.0) == 2048       # no 4096 px style pass
    assert gatys.style_side(3000, 0.5) == 1500


def plan(side: int, **values: object) -> tuple[list[tuple[int, int]], list[int]]:
    return gatys.stage_plan(side, side, StyleOptions(**{"iterations": 300, **values}))


def work(sizes: list[tuple[int, int]], budgets: list[int]) -> int:
    """Pixel-evaluations: what a run costs, up to a constant."""
    return sum(h * w * n for (h, w), n in zip(sizes, budgets))


def test_enhance_plans_coarse_passes_that_cut_the_work() -> None:
    assert plan(1024, enhance=2) == ([(256, 256), (512, 512), (1024, 1024)], [171, 85, 44])
    assert plan(512, enhance=3)[0] == [(256, 256), (512, 512)]    # no stage under 192 px
    assert plan(256, enhance=2)[0] == [(256, 256)]
    assert plan(2048, enhance=3)[0][0] == (256, 256)
    assert sum(plan(1024, enhance=2)[1]) == 300                   # the count stays exact
    plain = work(*plan(1024))
    assert work(*plan(1024, enhance=1)) / plain == pytest.approx(0.5, abs=0.01)
    assert work(*plan(1024, enhance=2)) / plain == pytest.approx(0.25, abs=0.01)
    assert plan(512, coarse_to_fine=True)[1] == [150, 150]        # the old pyramid is kept


def test_enhance_counts_exactly_and_does_the_planned_work(
        weights: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    content, style = media("astronaut.png", 384), media("brick.png", 256)
    seen: list[int] = []
    real_load = gatys.load_feature_net

    def counting_net(*args: object, **kwargs: object) -> object:
        net = real_load(*args, **kwargs)

        class Counting:
            def encode(self, x: torch.Tensor, taps: tuple[str, ...]) -> dict:
                if x.requires_grad:           # an evaluation of the image being painted
                    seen.append(x.shape[-2] * x.shape[-1])
                return net.encode(x, taps)
        return Counting()

    monkeypatch.setattr(gatys, "load_feature_net", counting_net)
    reports: list = []
    options = parse_options({"engine": "gatys-lite", "size": 384, "iterations": 30,
                             "enhance": 1, "device": "cpu", "seed": 0})
    out = gatys.run_gatys(content, [style], options, weights, reports.append, None, "cd16x")
    assert out.size == (384, 384) and reports[-1].message == "iteration 30 of 30"
    assert seen == [192 * 192] * 20 + [384 * 384] * 10
    # progress is the share of the work done (the time left is projected from it), not of
    # the iterations: the 20 coarse ones are a sixth of the work, not two thirds
    done = [sum(seen[:k + 1]) / sum(seen) for k in range(len(seen))]
    assert [r.fraction for r in reports] == pytest.approx(done)
    assert reports[19].fraction == pytest.approx(20 / 60)
