"""Painterly clips through the real pipeline (gatys-lite on the bundled pruned VGG-19, tiny
frames): every frame and the sound, a shot's first frame painted afresh (the start, a cut),
progress counted in iterations x pixels, and a resume that continues the chain from the
committed frame, giving the very clip made in one go."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.engine.dispatch import make_frame_stylizer
from app.engine.images import load_image
from app.engine.options import StyleOptions
from app.engine.types import Progress
from app.engine.weights.store import WeightStore
from app.video.decoding import iter_frames
from app.video.pipeline import stylize_video
from app.video.probe import VideoLimits, inspect_video
from app.video.segments import FolderSegments
from tests.support.clips import cut_frames, media, pan_frames, write_clip

LIMITS = VideoLimits()
OPTIONS = StyleOptions(engine="gatys-lite", max_side=64, iterations=8, seed=0, device="cpu")


@pytest.fixture(scope="module")
def painter_factory(tmp_path_factory: pytest.TempPathFactory):
    store = WeightStore(cache_dir=tmp_path_factory.mktemp("cache"))   # the bundled weights
    style = load_image(media("ihc.png"))
    return lambda: make_frame_stylizer([style], OPTIONS, store)


class FailsAt:
    """A painter that dies on its ``at``-th frame (a crash part-way through a clip)."""

    def __init__(self, painter, at: int) -> None:
        self.painter, self.at, self.calls = painter, at, 0

    def __getattr__(self, name: str):
        return getattr(self.painter, name)

    def stylize_frame(self, frame, previous, weight):
        self.calls += 1
        if self.calls == self.at:
            raise RuntimeError("painter crashed")
        return self.painter.stylize_frame(frame, previous, weight)


def test_a_painterly_clip_paints_each_shot_afresh_once(tmp_path: Path, painter_factory) -> None:
    src = write_clip(tmp_path / "cut.mp4", cut_frames("coffee.png", "rocket.jpg", (96, 72),
                                                      16, 8), fps=12, tone_hz=440.0)
    reports: list[Progress] = []
    timings: dict[str, float] = {}
    info = stylize_video(src, tmp_path / "out.mp4", painter_factory(), 64, LIMITS,
                         on_progress=reports.append, timings=timings)
    made = inspect_video(tmp_path / "out.mp4", LIMITS)
    assert made.frame_count == info.frame_count == 16 and made.has_audio
    assert (timings["frames"], timings["fresh"]) == (16, 2)        # the start and the cut
    fractions = [r.fraction for r in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    # the first frame costs 8 iterations, each later one 8 too (at least MIN_LATER): its
    # share of the work is 1/16; the progress inside it is reported step by step
    inside = [r for r in reports if r.message.startswith("frame 1 of 16 · step")]
    assert len(inside) >= 1 and inside[-1].fraction <= 1 / 16 + 1e-6
    first = next(iter_frames(tmp_path / "out.mp4")).astype(float)
    plain = next(iter_frames(src, (64, 48))).astype(float)
    assert np.abs(first - plain).mean() > 5                          # painted, not copied


def test_a_resumed_painterly_clip_continues_from_the_committed_frame(
        tmp_path: Path, painter_factory) -> None:
    src = write_clip(tmp_path / "pan.mp4", pan_frames("coffee.png", (96, 72), 24, step=2),
                     fps=12, tone_hz=440.0)
    whole = tmp_path / "whole.mp4"
    stylize_video(src, whole, painter_factory(), 64, LIMITS, segment_seconds=0.5)

    sink = FolderSegments(tmp_path / "segments")
    with pytest.raises(RuntimeError, match="painter crashed"):
        stylize_video(src, tmp_path / "out.mp4", FailsAt(painter_factory(), 10), 64, LIMITS,
                      sink=sink, segment_seconds=0.5)
    assert [s.frames for s in sink.done()] == [6]
    timings: dict[str, float] = {}
    stylize_video(src, tmp_path / "out.mp4", painter_factory(), 64, LIMITS, sink=sink,
                  segment_seconds=0.5, timings=timings)
    assert (timings["frames"], timings["fresh"]) == (18, 0)     # nothing painted afresh
    resumed = np.stack(list(iter_frames(tmp_path / "out.mp4"))).astype(float)
    straight = np.stack(list(iter_frames(whole))).astype(float)
    assert resumed.shape == straight.shape == (24, 48, 64, 3)
    assert np.abs(resumed - straight).mean() < 0.5            # the same clip
