"""The 16x-pruned VGG-19 encoder (Collaborative Distillation) on its real weights."""

from __future__ import annotations

import pytest
import torch

from app.engine.networks.pruned_vgg import TAPS, load_pruned_encoders
from app.engine.errors import WeightsMissingError
from app.engine.quality import gram_distance

from .conftest import small_tensor


def test_every_checkpoint_key_is_used(pruned_vgg, pruned_path):
    saved = torch.load(pruned_path, map_location="cpu", weights_only=True)["model"]
    built = pruned_vgg.state_dict()
    assert set(saved) == set(built)
    assert all(torch.equal(built[k], v) for k, v in saved.items())


def test_first_layer_is_the_caffe_preprocessing(pruned_vgg):
    """conv0 maps RGB in [0, 1] to BGR x 255 minus the ImageNet mean (in BGR order)."""
    rgb = torch.tensor([0.2, 0.5, 0.8]).view(1, 3, 1, 1)
    bgr = pruned_vgg.conv0(rgb).flatten()
    expected = torch.tensor([0.8 * 255 - 103.94, 0.5 * 255 - 116.78, 0.2 * 255 - 123.68])
    torch.testing.assert_close(bgr, expected, atol=1.5, rtol=0)


def test_taps_have_the_pruned_widths_and_strides(pruned_vgg):
    x = torch.rand(1, 3, 64, 96)
    taps = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1")
    feats = pruned_vgg.encode(x, taps)
    expected = {"relu1_1": (16, 1), "relu2_1": (32, 2), "relu3_1": (64, 4),
                "relu4_1": (128, 8), "relu4_2": (128, 8), "relu5_1": (128, 16)}
    assert set(feats) == set(taps)
    for tap, (channels, stride) in expected.items():
        assert feats[tap].shape == (1, channels, 64 // stride, 96 // stride), tap
        assert float(feats[tap].min()) >= 0.0, f"{tap} is a ReLU output"


def test_encode_stops_at_the_deepest_tap_asked_for(pruned_vgg):
    x = torch.rand(2, 3, 32, 32)
    shallow = pruned_vgg.encode(x, ("relu2_1",))
    full = pruned_vgg.encode(x, TAPS)
    assert list(shallow) == ["relu2_1"]
    torch.testing.assert_close(shallow["relu2_1"], full["relu2_1"])


def test_unknown_tap_is_refused(pruned_vgg):
    with pytest.raises(ValueError, match="relu6_1"):
        pruned_vgg.encode(torch.rand(1, 3, 16, 16), ("relu6_1",))


def test_features_tell_textures_apart(pruned_vgg, contents, styles):
    """A photo and its mirror image share a texture; a photo and a star field do not."""
    photo = contents["astronaut"]
    assert gram_distance(photo, photo, pruned_vgg) == 0.0
    mirrored = gram_distance(photo, photo.flip(-1), pruned_vgg)
    other = gram_distance(photo, small_tensor(styles["hubble"]), pruned_vgg)
    assert mirrored < 0.1 < 0.3 < other, (mirrored, other)   # measured 0.05 and 0.46


def test_loader_caches_and_checks(pruned_path, tmp_path):
    assert load_pruned_encoders("cpu", pruned_path) is load_pruned_encoders("cpu", pruned_path)
    wrong = tmp_path / "4SE.pth"
    torch.save({"model": {"conv0.weight": torch.zeros(3, 3, 1, 1)}}, wrong)
    with pytest.raises(WeightsMissingError, match="not a 16x-pruned VGG-19 encoder"):
        load_pruned_encoders("cpu", wrong)
    with pytest.raises(WeightsMissingError, match="missing"):
        load_pruned_encoders("cpu", tmp_path / "absent.pth")
