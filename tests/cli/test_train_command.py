"""`dreamgen train` and `dreamgen stylize --model`: a model from a folder of photos, a run
resumed from the checkpoint kept beside the model, a picture painted with the model, and
bad input as one line with exit status 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from app.cli import main
from app.engine.methods.trained.model_file import read_header
from tests.support.fast_models import photo_tensors, stripes
from tests.weights.support import set_env

from .test_stylize_command import _one_line_error


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    from app.engine.images import tensor_to_pil

    folder = tmp_path / "photos" / "nested"
    folder.mkdir(parents=True)
    for i, photo in enumerate(photo_tensors(3)):
        tensor_to_pil(photo).save(folder / f"p{i}.png")
    (folder / "notes.txt").write_text("not a photo")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return folder.parent


def _train(runner: CliRunner, style: Path, out: Path, photos: Path, *extra: str):  # type: ignore[no-untyped-def]
    return runner.invoke(main, ["train", str(style), "--content", str(photos), "-o", str(out),
                                "--steps", "6", "--size", "64", "--width", "8",
                                "--device", "cpu", *extra])


@pytest.mark.slow   # a training of a few steps, then a picture: ~10 s on two cores
def test_train_then_stylize_with_the_model(cache: Path, runner: CliRunner, tmp_path: Path,
                                           photo_folder: Path,
                                           tiny_images: dict[str, Path],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, "DREAMGEN_TRAIN_CHECKPOINT_STEPS", "3")
    style = tmp_path / "blue_stripes.png"
    stripes(96).save(style)
    model = tmp_path / "out" / "stripes.safetensors"
    result = _train(runner, style, model, photo_folder)
    assert result.exit_code == 0, result.output
    header = read_header(model)
    assert header.style_names == ["Blue stripes"]
    assert header.training["steps"] == 6 and header.training["photo_count"] == 3
    assert not model.with_name(model.name + ".checkpoint").exists()

    out = tmp_path / "painted.png"
    painted = runner.invoke(main, ["stylize", str(tiny_images["content"]), "--model",
                                   str(model), "-o", str(out), "--size", "64",
                                   "--device", "cpu"])
    assert painted.exit_code == 0, painted.output
    content = Image.open(tiny_images["content"]).convert("RGB")
    styled = Image.open(out).convert("RGB")
    assert max(styled.size) == 64
    difference = np.abs(np.asarray(content.resize(styled.size), dtype=np.float64)
                        - np.asarray(styled, dtype=np.float64)).mean()
    assert difference > 5


@pytest.mark.slow
def test_an_interrupted_training_resumes_from_the_checkpoint_beside_it(
        cache: Path, runner: CliRunner, tmp_path: Path, photo_folder: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, "DREAMGEN_TRAIN_CHECKPOINT_STEPS", "2")
    style = tmp_path / "s.png"
    stripes(96).save(style)
    first = tmp_path / "first.safetensors"
    assert _train(runner, style, first, photo_folder).exit_code == 0
    # an interrupted run of the same command left its checkpoint at step 4 behind
    from app.engine.methods.trained.checkpoints import save_checkpoint

    model = tmp_path / "again.safetensors"
    checkpoint = model.with_name(model.name + ".checkpoint")
    _leave_checkpoint(style, checkpoint, save_checkpoint)
    result = _train(runner, style, model, photo_folder)
    assert result.exit_code == 0, result.output
    assert read_header(model).training["resumed_at_step"] == 4
    assert not checkpoint.exists()


def _leave_checkpoint(style: Path, checkpoint: Path, save) -> None:  # type: ignore[no-untyped-def]
    """The checkpoint the same command writes at step 4 (same settings and style file)."""
    import hashlib

    from app.engine.methods.trained.photos import PhotoSet
    from app.engine.methods.trained.train_options import parse_train_options
    from app.engine.methods.trained.training import Trainer, new_network
    from app.engine.networks.pruned_vgg import load_pruned_encoders
    from tests.support.fast_models import photo_tensors as photos
    from tests.support.shared import SHARED

    options = parse_train_options({"steps": 6, "size": 64, "width": 8})
    vgg = load_pruned_encoders("cpu", SHARED / "weights" / "cd16x_wct" / "5SE.pth")
    trainer = Trainer(new_network(options, 1, 0), vgg, [{}], PhotoSet(photos(1)), options)
    save(trainer, 4, checkpoint, {"options": options.stored(),
                                  "styles": [hashlib.sha256(style.read_bytes()).hexdigest()],
                                  "base": None})


@pytest.mark.parametrize(("args", "expected"), [
    (["--steps", "0"], "training steps must be at least 1, not 0"),
    (["--width", "12"], "network width must be one of 8, 16, 32 or 64, not 12"),
    (["-o", "model.pt"], "must end in .safetensors"),
])
def test_bad_training_options_exit_2_with_one_line(cache: Path, runner: CliRunner,
                                                   tmp_path: Path, args: list[str],
                                                   expected: str) -> None:
    style = tmp_path / "s.png"
    stripes(32).save(style)
    output = ["-o", str(tmp_path / "m.safetensors")] if "-o" not in args else []
    _one_line_error(runner.invoke(main, ["train", str(style), *output, *args]), expected)


def test_stylize_refuses_a_pickle_and_a_model_with_style_images(cache: Path, runner: CliRunner,
                                                                tmp_path: Path,
                                                                tiny_images: dict[str, Path]) -> None:
    pickle = tmp_path / "model.pth"
    pickle.write_bytes(b"\x80\x04\x95 a pickle")
    out = str(tmp_path / "o.png")
    _one_line_error(runner.invoke(main, ["stylize", str(tiny_images["content"]), "--model",
                                         str(pickle), "-o", out]), "never opens them")
    _one_line_error(runner.invoke(main, ["stylize", str(tiny_images["content"]),
                                         str(tiny_images["style"]), "--model", str(pickle),
                                         "-o", out]), "not both")
    _one_line_error(runner.invoke(main, ["stylize", str(tiny_images["content"]), "-o", out]),
                    "give one or more STYLE images")
