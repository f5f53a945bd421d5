"""`dreamgen dream`: option checks, refusals in one line, and real dreams on tiny images
(the bundled pruned VGG-19, which every installation has)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from app.cli import main
from tests.weights.support import shared_dir


def one_line_error(result, expected: str) -> None:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert expected in lines[0]


@pytest.mark.parametrize(("extra", "expected"), [
    (["--octaves", "0"], "octaves must be at least 1, not 0"),
    (["--strength", "50"], "dream strength must be at most 10, not 50"),
    (["--strength", "nan"], "dream strength must be a finite number"),
    (["--octave-scale", "3"], "octave scale must be at most 2, not 3"),
    (["--iterations", "0"], "steps per octave must be at least 1, not 0"),
    (["--size", "4"], "output size must be at least 16, not 4"),
    (["--device", "tpu"], "unknown device 'tpu'"),
])
def test_bad_options_exit_2_with_one_line(cache: Path, runner: CliRunner, tmp_path: Path,
                                          tiny_images: dict[str, Path], extra: list[str],
                                          expected: str) -> None:
    out = tmp_path / "out.png"
    one_line_error(runner.invoke(main, ["dream", str(tiny_images["content"]), "-o", str(out),
                                        *extra]), expected)
    assert not out.exists()


def test_choices_are_checked_by_the_command_line(cache: Path, runner: CliRunner,
                                                 tmp_path: Path,
                                                 tiny_images: dict[str, Path]) -> None:
    result = runner.invoke(main, ["dream", str(tiny_images["content"]), "-o",
                                  str(tmp_path / "o.png"), "--depth", "dreamy"])
    assert result.exit_code == 2 and "'textures', 'patterns', 'shapes', 'objects'" in result.stderr


def test_bad_inputs_exit_2_with_one_line(cache: Path, runner: CliRunner, tmp_path: Path,
                                         tiny_images: dict[str, Path]) -> None:
    content, out = str(tiny_images["content"]), str(tmp_path / "out.png")
    one_line_error(runner.invoke(main, ["dream", str(tmp_path / "nope.png"), "-o", out]),
                   "content '")
    one_line_error(runner.invoke(main, ["dream", content, "-o", out, "--guide",
                                        str(tmp_path / "nope.png")]),
                   "guide image '")
    clip = shared_dir("media") / "pan_24fps_2s.mp4"
    one_line_error(runner.invoke(main, ["dream", str(clip), "-o", out, "--start", "3",
                                        "--end", "1"]),
                   "the end of the stretch must come after its start")
    one_line_error(runner.invoke(main, ["dream", content, "-o", str(tmp_path / "o.xyz")]),
                   "cannot tell the image format of 'o.xyz'")


def test_a_network_that_is_not_installed_names_the_fix(cache: Path, runner: CliRunner,
                                                       tmp_path: Path,
                                                       tiny_images: dict[str, Path]) -> None:
    result = runner.invoke(main, ["dream", str(tiny_images["content"]), "-o",
                                  str(tmp_path / "o.png"), "--network", "googlenet"])
    one_line_error(result, "dreamgen weights download googlenet/googlenet-1378be20.pth")
    assert not (tmp_path / "o.png").exists()


def test_a_real_dream_with_a_guide_and_a_progress_bar(cache: Path, runner: CliRunner,
                                                      tmp_path: Path,
                                                      tiny_images: dict[str, Path]) -> None:
    out = tmp_path / "out" / "dream.jpg"
    args = ["dream", str(tiny_images["content"]), "-o", str(out), "--size", "64",
            "--octaves", "2", "--octave-scale", "1.2", "--iterations", "3", "--depth",
            "patterns", "--strength", "1.5", "--network", "pruned-vgg19", "--seed", "3",
            "--device", "cpu"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stdout
    assert "100%" in result.stderr and "octave 2 of 2 · step 3 of 3" in result.stderr
    dreamed = Image.open(out).convert("RGB")
    assert dreamed.size == (64, 40)                  # 64 x 43 fitted to multiples of 8
    content = Image.open(tiny_images["content"]).convert("RGB").resize(dreamed.size)
    dream = np.asarray(dreamed, dtype=float)
    assert np.abs(dream - np.asarray(content, dtype=float)).mean() > 3
    guided_out = tmp_path / "guided.png"
    guided = runner.invoke(main, [*args[:3], str(guided_out), *args[4:], "--guide",
                                  str(tiny_images["style"])])
    assert guided.exit_code == 0, guided.output
    assert np.abs(np.asarray(Image.open(guided_out), dtype=float) - dream).mean() > 1


def test_a_clip_is_dreamed_with_its_sound(cache: Path, runner: CliRunner, tmp_path: Path) -> None:
    import av

    out = tmp_path / "dream.mp4"
    result = runner.invoke(main, ["dream", str(shared_dir("media") / "pan_24fps_2s.mp4"), "-o",
                                  str(out), "--size", "64", "--octaves", "1", "--iterations",
                                  "2", "--depth", "textures", "--start", "0.5", "--end", "1.0",
                                  "--device", "cpu"])
    assert result.exit_code == 0, result.output
    with av.open(str(out)) as clip:
        video = clip.streams.video[0]
        frames = sum(1 for _ in clip.decode(video=0))
        assert max(video.width, video.height) == 64 and clip.streams.audio
    assert frames == 12 and "100%" in result.stderr          # half a second at 24 fps
