"""`dreamgen stylize`: option checks, video detection and dispatch, and a real MicroAST run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from app.cli import main
from app.cli.make import is_video
from tests.weights.support import set_env, shared_dir


def _one_line_error(result, expected: str) -> None:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert expected in lines[0]


@pytest.mark.parametrize(("extra", "expected"), [
    (["--alpha", "1.5"], "style strength must be at most 1, not 1.5"),
    (["--alpha", "nan"], "style strength must be a finite number"),
    (["--style-weights", "0.7,0.3"], "2 style weights given for 1 style images"),
    (["--style-weights", "a"], "are not numbers separated by commas"),
    (["--style-weights", "1e308,1e308"], "style weights are too large"),
    (["--size", "4"], "output size must be at least 16, not 4"),
    (["--iterations", "0"], "iterations must be at least 1, not 0"),
    (["--device", "tpu"], "unknown device 'tpu'"),
])
def test_bad_options_exit_2_with_one_line(cache: Path, runner: CliRunner, tmp_path: Path,
                                          tiny_images: dict[str, Path], extra: list[str],
                                          expected: str) -> None:
    args = ["stylize", str(tiny_images["content"]), str(tiny_images["style"]),
            "-o", str(tmp_path / "out.png"), "--engine", "microast", *extra]
    _one_line_error(runner.invoke(main, args), expected)
    assert not (tmp_path / "out.png").exists()


def test_bad_inputs_exit_2_with_one_line(cache: Path, runner: CliRunner, tmp_path: Path,
                                         tiny_images: dict[str, Path]) -> None:
    style, out = str(tiny_images["style"]), str(tmp_path / "out.png")
    _one_line_error(runner.invoke(main, ["stylize", str(tmp_path / "nope.png"), style, "-o", out]),
                    "does not exist")
    text = tmp_path / "notes.png"
    text.write_text("hello")
    _one_line_error(runner.invoke(main, ["stylize", str(text), style, "-o", out]),
                    "content image is not an image we can read")
    _one_line_error(runner.invoke(main, ["stylize", str(tiny_images["content"]), style,
                                         "-o", str(tmp_path / "out.xyz")]),
                    "cannot tell the image format of 'out.xyz'")


def test_missing_weights_exit_2_naming_the_fix(cache: Path, runner: CliRunner, tmp_path: Path,
                                               tiny_images: dict[str, Path]) -> None:
    result = runner.invoke(main, ["stylize", str(tiny_images["content"]),
                                  str(tiny_images["style"]), "-o", str(tmp_path / "o.png"),
                                  "--engine", "adain"])
    _one_line_error(result, "dreamgen weights download adain")


def _animated_gif(path: Path, frames: int) -> Path:
    images = [Image.new("RGB", (16, 16), (40 * i, 0, 0)) for i in range(frames)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=50)
    return path


def test_video_detection(tmp_path: Path, tiny_images: dict[str, Path]) -> None:
    clip = shared_dir("media") / "pan_24fps_2s.mp4"
    assert is_video(clip) and is_video(tmp_path / "later.webm")
    disguised = tmp_path / "clip.bin"
    disguised.write_bytes(clip.read_bytes()[:4096])
    assert is_video(disguised)  # sniffed: ISO-BMFF "ftyp" with a video brand
    heic = tmp_path / "photo.bin"
    heic.write_bytes(b"\0\0\0\x18ftypheic" + b"\0" * 32)
    assert not is_video(heic)
    assert is_video(_animated_gif(tmp_path / "anim.gif", 3))
    assert not is_video(_animated_gif(tmp_path / "still.gif", 1))
    assert not is_video(tiny_images["content"])


def test_video_content_goes_to_the_video_pipeline(cache: Path, runner: CliRunner,
                                                  tmp_path: Path, tiny_images: dict[str, Path],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from app.engine.methods.microast.stylizer import MicroASTStylizer
    from app.engine.types import Progress

    calls = []

    def fake_stylize_video(src, dst, stylizer, max_side, limits, on_progress=None,
                           cancel=None, trim=None, segment_seconds=8.0):
        calls.append((src, dst, stylizer, max_side, cancel, trim))
        for step in range(5):
            on_progress(Progress(step / 4, f"frame {step}"))
        dst.write_bytes(b"video")

    monkeypatch.setattr("app.video.pipeline.stylize_video", fake_stylize_video)
    set_env(monkeypatch, "DREAMGEN_WEIGHTS_DIR", str(shared_dir("weights")))
    clip = shared_dir("media") / "pan_24fps_2s.mp4"
    out = tmp_path / "result.mp4"
    result = runner.invoke(main, ["stylize", str(clip), str(tiny_images["style"]),
                                  str(tiny_images["style2"]), "-o", str(out), "--alpha", "0.6",
                                  "--style-weights", "3,1", "--engine", "microast",
                                  "--preserve-color", "--size", "96", "--device", "cpu",
                                  "--start", "0.5"])
    assert result.exit_code == 0, result.output
    [(src, dst, stylizer, max_side, cancel, trim)] = calls
    assert (src, dst, max_side, cancel, trim) == (clip, out, 96, None, (0.5, None))
    assert isinstance(stylizer, MicroASTStylizer)
    assert (stylizer.alpha, stylizer.preserve_color, str(stylizer.device)) == (0.6, True, "cpu")
    assert "100%" in result.stderr and "frame 4" in result.stderr
    assert out.read_bytes() == b"video" and f"wrote {out}" in result.stdout


def test_real_microast_run_on_tiny_images(cache: Path, runner: CliRunner, tmp_path: Path,
                                          tiny_images: dict[str, Path],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, "DREAMGEN_WEIGHTS_DIR", str(shared_dir("weights")))
    out = tmp_path / "out" / "styled.png"
    result = runner.invoke(main, ["stylize", str(tiny_images["content"]),
                                  str(tiny_images["style"]), str(tiny_images["style2"]),
                                  "-o", str(out), "--engine", "microast", "--size", "64",
                                  "--style-weights", "0.7,0.3", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    content = Image.open(tiny_images["content"]).convert("RGB")
    styled = Image.open(out).convert("RGB")
    assert max(styled.size) == 64 and styled.mode == "RGB"
    resized = np.asarray(content.resize(styled.size), dtype=np.float64)
    difference = float(np.abs(resized - np.asarray(styled, dtype=np.float64)).mean())
    assert difference > 5, "the output is (nearly) the content image: nothing was stylised"
    assert "100%" in result.stderr


@pytest.mark.slow   # several seconds on a 2-core CPU: not in the fast tier
def test_real_microast_video_run_in_segments_of_the_configured_length(
        cache: Path, runner: CliRunner, tmp_path: Path, tiny_images: dict[str, Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A real clip through MicroAST; DREAMGEN_VIDEO_SEGMENT_SECONDS holds on the command
    line too: every segment opens with a keyframe, so a 2 s clip made in 0.5 s segments has
    one every 12 frames."""
    import av

    set_env(monkeypatch, "DREAMGEN_WEIGHTS_DIR", str(shared_dir("weights")))
    set_env(monkeypatch, "DREAMGEN_VIDEO_SEGMENT_SECONDS", "0.5")
    out = tmp_path / "styled.mp4"
    result = runner.invoke(main, ["stylize", str(shared_dir("media") / "pan_24fps_2s.mp4"),
                                  str(tiny_images["style"]), "-o", str(out),
                                  "--engine", "microast", "--size", "64", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert max(stream.width, stream.height) == 64
        packets = sorted((p for p in container.demux(stream) if p.size), key=lambda p: p.pts)
    assert len(packets) == 48 and "100%" in result.stderr
    assert [i for i, p in enumerate(packets) if p.is_keyframe] == [0, 12, 24, 36]
