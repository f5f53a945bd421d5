"""The fast paths give the reference path's pictures (CPU, fp32).

Reference: plain eager fp32, default memory layout, the style encoded in the same call, the
whole image at once. Stated tolerances:

- AdaIN stylizer (cached style statistics, channels_last, ``inference_mode``) vs reference:
  max abs difference < 1e-4 (float rounding of a different convolution order).
- Tiled vs whole image, 256 px astronaut, 128 px tiles (AdaIN) / 96 px tiles (MicroAST):
  mean abs difference < 0.004 (one grey level is 0.0039; measured 0.0017 and 0.0013), and no
  seam: across every row and column where a tile starts or ends, and where one tile's owned
  region meets the next, the mean squared step between neighbouring pixels is at most 1.2x
  the untiled image's across the same lines (measured at most 1.03x) and at most 2x the
  whole image's average step (the untiled image itself reaches 1.6x on some of these lines:
  8-px-aligned rows and columns are not average ones). Stitching tiles that were each
  stylised alone fails the first check at its cuts (measured 1.9x for AdaIN, 20x for
  MicroAST), so it can catch a seam.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from app.engine.methods.adain import stylizer as adain_module
from app.engine.methods.microast import network as microast_module
from app.engine.networks import vgg as vgg_module
from app.engine.features import adain
from app.engine.methods.adain.stylizer import AdaINStylizer, prepare_style
from app.engine.options import StyleOptions
from app.engine.feedforward import stylize_single
from app.engine.methods.microast.stylizer import MicroASTStylizer
from app.engine.tiling import Tile, tile_grid, tile_layout
from app.engine.weights.checkpoints import load_strict
from app.engine.networks.vgg import AdaINDecoder, VGGEncoder

from .conftest import SIDE, all_lines, border_lines, cut_lines, gradient_energy, photo

SEAM_VS_UNTILED = 1.2
SEAM_VS_AVERAGE = 2.0
MEAN_ABS_TILED = 0.004


@pytest.fixture(scope="module")
def adain_stylizer(adain_weights: dict[str, Path]) -> AdaINStylizer:
    return AdaINStylizer([photo("hubble_deep_field.jpg", 64)], StyleOptions(device="cpu"),
                         weights=adain_weights)


@pytest.fixture(scope="module")
def microast_stylizer(microast_weights: dict[str, Path]) -> MicroASTStylizer:
    return MicroASTStylizer([photo("ihc.png", 64)], StyleOptions(device="cpu"), microast_weights)


def reference_adain(weights: dict[str, Path], content: torch.Tensor, style: torch.Tensor
                    ) -> torch.Tensor:
    encoder, decoder = VGGEncoder(), AdaINDecoder()
    load_strict(encoder, weights["adain/vgg_normalised.pth"], "VGG")
    load_strict(decoder, weights["adain/decoder.pth"], "AdaIN decoder")
    with torch.no_grad():
        return decoder.eval()(adain(encoder.eval()(content), encoder(style))).clamp(0, 1)


def seam_check(tiled: torch.Tensor, untiled: torch.Tensor, lines: tuple[list[int], list[int]]
               ) -> tuple[float, float]:
    """(energy across ``lines`` / the untiled image's there, / the tiled image's average)."""
    height, width = tiled.shape[-2:]
    rows, cols = lines
    border = gradient_energy(tiled, rows, cols)
    return (border / gradient_energy(untiled, rows, cols),
            border / gradient_energy(tiled, *all_lines(height, width)))


def stitched_alone(stylizer, content: torch.Tensor, tiles: list[Tile]) -> torch.Tensor:
    """Each tile stylised on its own (its own statistics) and pasted over the part it owns."""
    out = torch.zeros_like(content)
    for t in tiles:
        rows, cols = slice(t.top + t.own_top, t.top + t.own_bottom), \
            slice(t.left + t.own_left, t.left + t.own_right)
        out[..., rows, cols] = stylizer.stylize_frames(t.crop(content))[
            ..., t.own_top:t.own_bottom, t.own_left:t.own_right]
    return out


def test_adain_fast_path_equals_reference(adain_weights, adain_stylizer, content) -> None:
    small = content[..., ::2, ::2].contiguous()                 # 128 px keeps it quick
    style = prepare_style(photo("hubble_deep_field.jpg", 64))
    want = reference_adain(adain_weights, small, style)
    got = adain_stylizer.stylize_frames(small)
    assert (got - want).abs().max().item() < 1e-4


@pytest.mark.parametrize("engine,tile_side", [("adain", 128), ("microast", 96)])
def test_tiled_equals_whole_image_without_seams(engine, tile_side, request, content) -> None:
    stylizer = request.getfixturevalue(f"{engine}_stylizer")
    whole = stylizer.stylize_frames(content)
    tiled = stylizer.stylize_tiled(content, tile_side=tile_side)
    tiles = tile_grid(SIDE, SIDE, *tile_layout(0, tile_side))
    assert len(tiles) >= 9
    assert (tiled - whole).abs().mean().item() < MEAN_ABS_TILED
    for lines in (border_lines(tiles, SIDE, SIDE), cut_lines(tiles)):
        vs_untiled, vs_average = seam_check(tiled, whole, lines)
        assert vs_untiled < SEAM_VS_UNTILED and vs_average < SEAM_VS_AVERAGE
    naive = stitched_alone(stylizer, content, tiles)
    assert seam_check(naive, whole, cut_lines(tiles))[0] > SEAM_VS_UNTILED  # it sees seams


def test_microast_tiled_with_alpha_and_preserve_color(microast_weights, content) -> None:
    stylizer = MicroASTStylizer([photo("ihc.png", 64)],
                                StyleOptions(device="cpu", alpha=0.5, preserve_color=True),
                                microast_weights)
    odd = content[..., :250, :246]                              # not multiples of 8: padded
    whole = stylizer.stylize_frames(odd)
    tiled = stylizer.stylize_tiled(odd, tile_side=128)
    assert tiled.shape == odd.shape
    assert (tiled - whole).abs().mean().item() < MEAN_ABS_TILED


@pytest.mark.parametrize("engine", ["adain", "microast"])
def test_stylize_single_tiles_above_the_threshold(engine, request, monkeypatch) -> None:
    stylizer = request.getfixturevalue(f"{engine}_stylizer")
    calls = []
    original = type(stylizer).stylize_tiled
    monkeypatch.setattr(type(stylizer), "stylize_tiled",
                        lambda self, frames, tile_side=0: calls.append(frames.shape)
                        or original(self, frames, tile_side))
    image = photo("chelsea.png", 128)
    stylize_single(stylizer, image, StyleOptions(max_side=128))
    assert calls == []                                          # 128 px fits in memory
    monkeypatch.setattr(stylizer, "tile_megapixels", 0.01)      # 10,000 px
    monkeypatch.setattr(stylizer, "tile_side", 64)
    result = stylize_single(stylizer, image, StyleOptions(max_side=128))
    assert len(calls) == 1 and result.size == image.size


def test_networks_load_once_per_device(adain_weights, microast_weights, monkeypatch) -> None:
    loads = []
    real_vgg_load, real_micro_load = vgg_module.load_strict, microast_module.load_strict
    monkeypatch.setattr(vgg_module, "load_strict",
                        lambda *a, **k: loads.append(a) or real_vgg_load(*a, **k))
    monkeypatch.setattr(microast_module, "load_strict",
                        lambda *a, **k: loads.append(a) or real_micro_load(*a, **k))
    style = photo("ihc.png", 32)
    first = AdaINStylizer([style], StyleOptions(device="cpu"), weights=adain_weights)
    first_micro = MicroASTStylizer([style], StyleOptions(device="cpu"), microast_weights)
    warm = len(loads)                                           # 0 if earlier tests loaded them
    second = AdaINStylizer([style], StyleOptions(device="cpu", alpha=0.5), weights=adain_weights)
    second_micro = MicroASTStylizer([style], StyleOptions(device="cpu"), microast_weights)
    assert len(loads) == warm                                   # no reload for a new job
    assert second.encoder is first.encoder and second.decoder is first.decoder
    assert second_micro.nets is first_micro.nets
    assert adain_module.load_vgg_encoder is vgg_module.load_vgg_encoder


def test_microast_fast_path_equals_reference(microast_weights, microast_stylizer, content) -> None:
    from app.engine.methods.microast.network import (MicroASTNetworks, MicroDecoder,
                                                     MicroEncoder, Modulator, decode,
                                                     encode_style, resolve_weight_paths)
    from app.engine.methods.microast.network import prepare_style as microast_style

    nets = MicroASTNetworks(MicroEncoder(), MicroEncoder(), Modulator(), MicroDecoder())
    for part, path in resolve_weight_paths(microast_weights).items():
        load_strict(getattr(nets, part), path, "MicroAST")
        getattr(nets, part).eval()
    small = content[..., ::2, ::2].contiguous()
    with torch.no_grad():                                       # default layout, style per call
        code = encode_style(nets, microast_style(photo("ihc.png", 64)))
        shallow, deep = nets.content_encoder(small)
        want = decode(nets.decoder, deep, code).clamp(0, 1)
    got = microast_stylizer.stylize_frames(small)
    assert got.is_contiguous()
    assert (got - want).abs().max().item() < 1e-4
