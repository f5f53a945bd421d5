"""AdaIN's maths and the cached-style stylizer, on generated checkpoints."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from PIL import Image

from app.engine.features import adain, calc_mean_std
from app.engine.methods.adain.stylizer import AdaINStylizer, prepare_style
from app.engine.options import StyleOptions, parse_options
from app.engine.color import rgb_to_ycbcr
from app.engine.errors import Cancelled, StyleTransferError
from app.engine.feedforward import stylize_single
from app.engine.images import pil_to_tensor

CPU = dict(device="cpu", max_side=64)


@pytest.fixture(autouse=True)
def small_styles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Encode styles at 64 px instead of 512 to keep the tests light on a shared CPU."""
    monkeypatch.setattr("app.engine.methods.adain.stylizer.STYLE_SIDE", 64)


def test_adain_gives_the_style_statistics() -> None:
    gen = torch.Generator().manual_seed(0)
    content = torch.randn(2, 8, 10, 12, generator=gen) * 3 + 1
    style = torch.randn(2, 8, 7, 9, generator=gen) * 0.5 - 2
    out = adain(content, style)
    for got, want in zip(calc_mean_std(out), calc_mean_std(style)):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    # the content's spatial pattern survives: AdaIN is a per-channel affine map
    corr = torch.corrcoef(torch.stack([out[0, 0].flatten(), content[0, 0].flatten()]))[0, 1]
    assert corr > 0.999


def _stylizer(styles: list[Image.Image], weights: dict[str, Path], **options) -> AdaINStylizer:
    return AdaINStylizer(styles, parse_options({**CPU, **options}), weights=weights)


def test_decoder_input_has_the_cached_style_statistics(
        adain_weights: dict[str, Path], content: Image.Image, style: Image.Image) -> None:
    stylizer = _stylizer([style], adain_weights)
    with torch.inference_mode():
        style_feat = stylizer.encoder(prepare_style(style))
        feat = stylizer.encoder(pil_to_tensor(content.resize((64, 64))))
        target = stylizer.target_features(feat)
    mean, std = calc_mean_std(target, eps=0.0)   # the target's std already holds the eps
    want_mean, want_std = calc_mean_std(style_feat)
    # a channel the content leaves constant (a dead ReLU) has no variation to rescale
    varied = calc_mean_std(feat)[1] > 0.1   # eps (1e-5) negligible against var
    assert varied.float().mean() > 0.5
    torch.testing.assert_close(mean, want_mean, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(std[varied], want_std[varied], atol=1e-3, rtol=2e-3)
    assert not torch.allclose(calc_mean_std(feat)[0], want_mean, atol=1e-2)


def test_alpha_zero_decodes_the_content_features(
        adain_weights: dict[str, Path], content: Image.Image, style: Image.Image) -> None:
    stylizer = _stylizer([style], adain_weights, alpha=0.0)
    frames = pil_to_tensor(content.resize((64, 64)))
    with torch.inference_mode():
        want = stylizer.decoder(stylizer.encoder(frames)).clamp(0, 1)
    torch.testing.assert_close(stylizer.stylize_frames(frames), want)
    full = _stylizer([style], adain_weights, alpha=1.0).stylize_frames(frames)
    assert (full - want).abs().mean() > 1e-3


def test_style_weights_one_zero_equal_the_single_style(
        adain_weights: dict[str, Path], content: Image.Image, style: Image.Image,
        style2: Image.Image) -> None:
    frames = pil_to_tensor(content.resize((64, 64)))
    single = _stylizer([style], adain_weights).stylize_frames(frames)
    mixed = _stylizer([style, style2], adain_weights, style_weights=(1.0, 0.0))
    torch.testing.assert_close(mixed.stylize_frames(frames), single)
    half = _stylizer([style, style2], adain_weights, style_weights=(1.0, 1.0))
    assert (half.stylize_frames(frames) - single).abs().mean() > 1e-3
    with pytest.raises(StyleTransferError, match="one each"):
        _stylizer([style, style2], adain_weights, style_weights=(1.0,))


def _chroma_stats(image: torch.Tensor) -> torch.Tensor:
    chroma = rgb_to_ycbcr(image)[:, 1:].flatten(2)
    return torch.cat([chroma.mean(2), chroma.std(2)], dim=1)[0]


def test_preserve_color_keeps_the_content_chroma(
        adain_weights: dict[str, Path], content: Image.Image) -> None:
    red = Image.new("RGB", (64, 64), (200, 30, 20))
    red.paste(Image.new("RGB", (32, 32), (250, 120, 0)), (16, 16))
    frames = pil_to_tensor(content.resize((64, 64)))
    kept = _stylizer([red], adain_weights, preserve_color=True).stylize_frames(frames)
    plain = _stylizer([red], adain_weights).stylize_frames(frames)
    want = _chroma_stats(frames)
    assert (_chroma_stats(kept) - want).abs().max() < 0.02
    assert (_chroma_stats(kept) - _chroma_stats(pil_to_tensor(red))).abs().max() > 0.1
    assert (_chroma_stats(plain) - want).abs().max() > (_chroma_stats(kept) - want).abs().max()


def test_batched_frames_equal_one_by_one(
        adain_weights: dict[str, Path], content: Image.Image, style: Image.Image) -> None:
    stylizer = _stylizer([style], adain_weights, alpha=0.8)
    frames = torch.rand(3, 3, 32, 48, generator=torch.Generator().manual_seed(1))
    batched = stylizer.stylize_frames(frames)
    single = torch.cat([stylizer.stylize_frames(f[None]) for f in frames])
    assert batched.shape == frames.shape and batched.dtype == torch.float32
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-4)


def test_stylize_single_sizes_reports_and_cancels(
        adain_weights: dict[str, Path], content: Image.Image, style: Image.Image) -> None:
    stylizer = _stylizer([style], adain_weights)
    reports = []
    wide = content.resize((100, 50))
    out = stylize_single(stylizer, wide, StyleOptions(max_side=64), on_progress=reports.append)
    assert out.size == (64, 32) and out.mode == "RGB"
    assert [r.fraction for r in reports] == [0.0, 1.0]
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        stylize_single(stylizer, wide, StyleOptions(max_side=64), cancel=cancel)


def test_bad_requests_are_style_transfer_errors(
        adain_weights: dict[str, Path], content: Image.Image, style: Image.Image) -> None:
    with pytest.raises(StyleTransferError, match="at least one style"):
        _stylizer([], adain_weights)
    with pytest.raises(StyleTransferError, match="style strength must be at most 1"):
        _stylizer([style], adain_weights, alpha=1.5)
    with pytest.raises(StyleTransferError, match="no pixels"):
        _stylizer([Image.new("RGB", (0, 0))], adain_weights)
    stylizer = _stylizer([style], adain_weights)
    with pytest.raises(StyleTransferError, match="multiples of 8"):
        stylizer.stylize_frames(torch.rand(1, 3, 30, 32))
    with pytest.raises(StyleTransferError, match="no pixels"):
        stylize_single(stylizer, Image.new("RGB", (0, 0)), StyleOptions(max_side=64))
    with pytest.raises(StyleTransferError, match="unknown AdaIN weight"):
        AdaINStylizer([style], StyleOptions(device="cpu"), weights={"vgg": Path("x")})
