"""The networks match the published checkpoints' layout and tap the right layers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from app.engine.errors import WeightsMissingError
from app.engine.networks.vgg import (
    TAP_ENDS,
    AdaINDecoder,
    VGGEncoder,
    load_adain_decoder,
    load_vgg_encoder,
)
from tests.support.checkpoints import make_vgg_state


def _published_vgg_keys() -> list[str]:
    # pytorch-AdaIN net.py: convs sit at these Sequential indices (1x1 conv first).
    convs = [0, 2, 5, 9, 12, 16, 19, 22, 25, 29, 32, 35, 38, 42, 45, 48, 51]
    return [f"{i}.{p}" for i in convs for p in ("weight", "bias")]


def _published_decoder_keys() -> list[str]:
    convs = [1, 5, 8, 11, 14, 18, 21, 25, 28]
    return [f"{i}.{p}" for i in convs for p in ("weight", "bias")]


def test_state_dict_keys_are_the_published_ones() -> None:
    assert list(VGGEncoder().state_dict()) == _published_vgg_keys()
    assert list(AdaINDecoder().state_dict()) == _published_decoder_keys()
    assert VGGEncoder().state_dict()["51.weight"].shape == (512, 512, 3, 3)
    assert AdaINDecoder().state_dict()["1.weight"].shape == (256, 512, 3, 3)
    assert AdaINDecoder().state_dict()["28.weight"].shape == (3, 64, 3, 3)


def test_generated_checkpoints_load_strictly(adain_weights: dict[str, Path]) -> None:
    for name, net in (("adain/vgg_normalised.pth", VGGEncoder()),
                      ("adain/decoder.pth", AdaINDecoder())):
        state = torch.load(adain_weights[name], weights_only=True)
        assert all(t.dtype == torch.float32 for t in state.values())
        net.load_state_dict(state, strict=True)


def test_taps_end_on_relus_of_the_right_width() -> None:
    encoder = VGGEncoder()
    widths = {"relu1_1": 64, "relu2_1": 128, "relu3_1": 256, "relu4_1": 512, "relu4_2": 512,
              "relu5_1": 512}
    for tap, width in widths.items():
        assert isinstance(encoder[TAP_ENDS[tap] - 1], nn.ReLU)
        assert encoder[TAP_ENDS[tap] - 2].out_channels == width
    assert TAP_ENDS["relu4_1"] == 31   # pytorch-AdaIN's enc_4 = vgg[18:31]


def test_encode_gives_the_taps_at_their_scales(adain_weights: dict[str, Path]) -> None:
    encoder = load_vgg_encoder(adain_weights["adain/vgg_normalised.pth"])
    feats = encoder.encode(torch.rand(1, 3, 64, 48), ("relu5_1", "relu1_1", "relu4_2"))
    assert feats["relu1_1"].shape == (1, 64, 64, 48)
    assert feats["relu4_2"].shape == (1, 512, 8, 6)
    assert feats["relu5_1"].shape == (1, 512, 4, 3)
    # the generated weights are "normalised": activations stay around 1, not 1e6 or 1e-6
    assert all(0.1 < f.mean().item() < 10 for f in feats.values())
    with pytest.raises(ValueError):
        encoder.encode(torch.rand(1, 3, 32, 32), ("relu9_9",))


def test_loaders_cache_and_reject_bad_files(adain_weights: dict[str, Path],
                                            tmp_path: Path) -> None:
    path = adain_weights["adain/vgg_normalised.pth"]
    assert load_vgg_encoder(path) is load_vgg_encoder(path)
    with pytest.raises(WeightsMissingError):
        load_vgg_encoder(tmp_path / "absent.pth")
    wrong = tmp_path / "wrong.pth"
    state = make_vgg_state(1)
    del state["51.bias"]
    torch.save(state, wrong)
    with pytest.raises(WeightsMissingError, match="layout"):
        load_vgg_encoder(wrong)
    with pytest.raises(WeightsMissingError, match="layout"):
        load_adain_decoder(path)      # an encoder file is not a decoder
