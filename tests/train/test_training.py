"""Training: the perceptual loss falls, a resumed run continues exactly where the
uninterrupted one was, adding a style trains only that style's parameters, and a
checkpoint of another training is never used. Small enough for two CPU cores: a network of
width 8 with one residual block, 64 px crops, a few dozen steps."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from app.engine.errors import Cancelled, StyleTransferError
from app.engine.feedforward import prepare_style
from app.engine.images import pil_to_tensor
from app.engine.methods.trained.checkpoints import resume_step, save_checkpoint
from app.engine.methods.trained.fit import FitPlan, fit
from app.engine.methods.trained.model_file import parse_model
from app.engine.methods.trained.network import conv_parameters
from app.engine.methods.trained.training import (
    Schedule,
    Trainer,
    extend_network,
    new_network,
    targets,
    train,
)
from tests.support.fast_models import stripes
from tests.support.shared import SHARED

from .conftest import tiny_options

VGG_PATH = SHARED / "weights" / "cd16x_wct" / "5SE.pth"


def _trainer(vgg, photos, options, styles=1, seed=0):  # type: ignore[no-untyped-def]
    style = prepare_style(stripes(), options.style_side, 16)
    return Trainer(new_network(options, styles, seed), vgg,
                   targets(vgg, [style] * styles, "cpu"), photos, options)


def test_the_losses_fall(vgg, photos) -> None:  # type: ignore[no-untyped-def]
    options = tiny_options(steps=40)
    trainer = _trainer(vgg, photos, options)
    train(trainer, 0, Schedule(40, 1000, 1000), photos.photos[0][None, :, :64, :64],
          lambda step: None)
    first, last = trainer.history.first, trainer.history.mean()
    assert last["style"] < 0.5 * first["style"], (first, last)
    assert last["style"] + last["content"] < 0.6 * (first["style"] + first["content"])


def test_a_resumed_run_continues_where_the_checkpoint_was(vgg, photos,
                                                          tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    options = tiny_options(steps=12)
    straight = _trainer(vgg, photos, options)
    train(straight, 0, Schedule(12, 1000, 1000), photos.photos[0][None, :, :64, :64],
          lambda step: None)

    interrupted = _trainer(vgg, photos, options)
    checkpoint = tmp_path / "c.safetensors"
    identity = {"job": "j1"}

    def commit(step: int) -> None:
        save_checkpoint(interrupted, step, checkpoint, identity)
        if step == 6:
            raise Cancelled()            # killed right after its second checkpoint

    with pytest.raises(Cancelled):
        train(interrupted, 0, Schedule(12, 3, 1000), photos.photos[0][None, :, :64, :64],
              commit)
    resumed = _trainer(vgg, photos, options, seed=99)   # a fresh start, overwritten below
    assert resume_step(resumed, checkpoint, identity) == 6
    train(resumed, 6, Schedule(12, 1000, 1000), photos.photos[0][None, :, :64, :64],
          lambda step: None)
    for (name, a), b in zip(straight.net.state_dict().items(),
                            resumed.net.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5), name


def test_a_checkpoint_of_another_training_is_refused(vgg, photos,
                                                      tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    trainer = _trainer(vgg, photos, tiny_options(steps=2))
    save_checkpoint(trainer, 2, tmp_path / "c.safetensors", {"job": "a"})
    with pytest.raises(StyleTransferError, match="other settings"):
        resume_step(trainer, tmp_path / "c.safetensors", {"job": "b"})
    (tmp_path / "bad.safetensors").write_bytes(b"not a checkpoint at all")
    with pytest.raises(StyleTransferError, match="cannot be read"):
        resume_step(trainer, tmp_path / "bad.safetensors", {"job": "a"})


def test_adding_a_style_trains_only_its_own_parameters(vgg, photos) -> None:  # type: ignore[no-untyped-def]
    options = tiny_options(steps=6)
    base = _trainer(vgg, photos, options).net
    before = {k: v.clone() for k, v in base.state_dict().items()}
    net = extend_network(base, 1)
    style = prepare_style(stripes(period=6.0), options.style_side, 16)
    trainer = Trainer(net, vgg, [{}] + targets(vgg, [style], "cpu"), photos, options, 1)
    assert list(trainer.trained_styles) == [1]
    train(trainer, 0, Schedule(6, 1000, 1000), photos.photos[0][None, :, :64, :64],
          lambda step: None)
    after = trainer.net.state_dict()
    for name, value in before.items():
        if name.endswith((".gamma", ".beta")):
            assert torch.equal(after[name][0], value[0]), name          # the old style
            assert not torch.equal(after[name][1], value.mean(dim=0)), name   # the new one
        else:
            assert torch.equal(after[name], value), name                # convolutions
    assert all(not p.requires_grad for p in conv_parameters(trainer.net))


def test_fit_makes_a_model_file_and_resumes_from_its_checkpoints(tmp_path: Path,
                                                                photos) -> None:  # type: ignore[no-untyped-def]
    commits: list[int] = []

    def commit(step, write) -> None:  # type: ignore[no-untyped-def]
        write(tmp_path / "c.safetensors")
        commits.append(step)

    plan = FitPlan(tiny_options(steps=8), [stripes()], ["Stripes"], photos,
                   photos.photos[0], identity={"run": 1}, checkpoint_every=3)
    data, painting = fit(plan, VGG_PATH, "cpu", commit)
    header, _ = parse_model(data, 2**24)
    assert commits == [3, 6]
    assert header.style_names == ["Stripes"] and header.training["resumed_at_step"] == 0
    assert painting.size[0] <= 512 and painting.mode == "RGB"
    plan.checkpoint = tmp_path / "c.safetensors"
    data, _ = fit(plan, VGG_PATH, "cpu", commit)
    assert parse_model(data, 2**24)[0].training["resumed_at_step"] == 6
    assert pil_to_tensor(painting).std() > 0.01
