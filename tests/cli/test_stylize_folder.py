"""`dreamgen stylize DIR STYLE... -o OUTDIR`: every photo of a folder with a real MicroAST run,
names kept, a second run skipping what is done, a damaged photo reported and the rest made."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from app.cli import main
from tests.weights.support import set_env, shared_dir


@pytest.fixture
def folder(tmp_path: Path, tiny_images: dict[str, Path]) -> Path:
    """Three photos (a PNG, a JPEG, a GIF), a text file and a subfolder."""
    photos = tmp_path / "photos"
    (photos / "inner").mkdir(parents=True)
    shutil.copy(tiny_images["content"], photos / "cat.png")
    Image.open(tiny_images["style2"]).save(photos / "gravel.jpeg", quality=90)
    Image.open(tiny_images["content"]).save(photos / "still.gif")
    (photos / "notes.txt").write_text("not a photo")
    shutil.copy(tiny_images["content"], photos / "inner" / "deeper.png")
    return photos


def run(runner: CliRunner, folder: Path, style: Path, out: Path):  # type: ignore[no-untyped-def]
    return runner.invoke(main, ["stylize", str(folder), str(style), "-o", str(out),
                                "--engine", "microast", "--size", "64", "--device", "cpu"])


def test_a_folder_is_made_once_and_skipped_when_run_again(
        cache: Path, runner: CliRunner, tmp_path: Path, folder: Path,
        tiny_images: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, "DREAMGEN_WEIGHTS_DIR", str(shared_dir("weights")))
    out = tmp_path / "styled"
    first = run(runner, folder, tiny_images["style"], out)
    assert first.exit_code == 0, first.output
    assert sorted(p.name for p in out.iterdir()) == ["cat.png", "gravel.jpg", "still.png"]
    assert "wrote 3" in first.stdout and "0 already done" in first.stdout
    styled = np.asarray(Image.open(out / "cat.png").convert("RGB"), dtype=np.float64)
    original = Image.open(folder / "cat.png").convert("RGB").resize(styled.shape[1::-1])
    assert np.abs(styled - np.asarray(original, dtype=np.float64)).mean() > 5
    stamp = (out / "cat.png").stat().st_mtime_ns
    (out / "gravel.jpg").unlink()
    second = run(runner, folder, tiny_images["style"], out)
    assert second.exit_code == 0, second.output
    assert "wrote 1" in second.stdout and "2 already done" in second.stdout
    assert (out / "gravel.jpg").exists() and (out / "cat.png").stat().st_mtime_ns == stamp


@pytest.mark.slow   # several seconds on a 2-core CPU: not in the fast tier
def test_a_damaged_photo_is_reported_and_the_others_are_made(
        cache: Path, runner: CliRunner, tmp_path: Path, folder: Path,
        tiny_images: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, "DREAMGEN_WEIGHTS_DIR", str(shared_dir("weights")))
    (folder / "broken.png").write_bytes((folder / "cat.png").read_bytes()[:100])
    out = tmp_path / "styled"
    result = run(runner, folder, tiny_images["style"], out)
    assert result.exit_code == 1
    assert "failed broken.png" in result.stderr and "1 failed" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["cat.png", "gravel.jpg", "still.png"]


def test_a_folder_without_photos_is_one_line(cache: Path, runner: CliRunner, tmp_path: Path,
                                             tiny_images: dict[str, Path]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run(runner, empty, tiny_images["style"], tmp_path / "out")
    assert result.exit_code == 2 and "there is no photo" in result.stderr
