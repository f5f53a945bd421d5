"""Segmented output: resuming after a stop costs no frame twice, trimming makes only a
stretch, and the delivered file is one MP4 with the right frames, duration and sound."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from app.video.decoding import iter_frames
from app.video.pipeline import stylize_video
from app.video.probe import VideoLimits, inspect_video
from app.video.segments import FolderSegments
from app.video.flicker import temporal_instability
from tests.video.doubles import StandInStylizer

LIMITS = VideoLimits()
SEGMENT_S = 0.5          # 12 frames of the 24 fps pan clip: four segments


def _sound_seconds(path: Path) -> float:
    with av.open(str(path)) as clip:
        audio = clip.streams.audio[0]
        return float(audio.duration * audio.time_base)


def test_a_stopped_clip_resumes_after_its_last_committed_segment(tmp_path: Path,
                                                                 pan_clip: Path) -> None:
    sink = FolderSegments(tmp_path / "segments")
    failing = StandInStylizer(fail_at_call=10)       # batches of 2: dies in frame 19-20
    with pytest.raises(RuntimeError, match="stand-in engine failure"):
        stylize_video(pan_clip, tmp_path / "out.mp4", failing, 128, LIMITS, batch_size=2,
                      sink=sink, segment_seconds=SEGMENT_S)
    committed = sink.done()
    assert [s.frames for s in committed] == [12] and not (tmp_path / "out.mp4").exists()
    assert sorted(p.name for p in (tmp_path / "segments").iterdir()) == ["seg-00000.mp4"]

    again = StandInStylizer()
    timings: dict[str, float] = {}
    info = stylize_video(pan_clip, tmp_path / "out.mp4", again, 128, LIMITS, batch_size=2,
                         sink=sink, segment_seconds=SEGMENT_S, timings=timings)
    assert again.frames_seen == 36 and timings["frames"] == 36   # frames 12-47 only
    assert [(s.first_frame, s.frames) for s in sink.done()] == [(0, 12), (12, 12), (24, 12),
                                                               (36, 12)]
    result = inspect_video(tmp_path / "out.mp4", LIMITS)
    source = inspect_video(pan_clip, LIMITS)
    assert result.frame_count == info.frame_count == source.frame_count == 48
    assert result.duration == pytest.approx(source.duration, abs=0.05)
    assert _sound_seconds(tmp_path / "out.mp4") == pytest.approx(_sound_seconds(pan_clip),
                                                                  abs=0.05)


def _pair_flicker(inputs: list[np.ndarray], outputs: list[np.ndarray]) -> list[float]:
    """Flicker of each consecutive pair of output frames (grey levels)."""
    return [temporal_instability(inputs[i - 1:i + 1], outputs[i - 1:i + 1]).output
            for i in range(1, len(outputs))]


def _resumed_flicker(tmp_path: Path, pan_clip: Path) -> tuple[float, float]:
    """(flicker across the join of a resumed run, mean flicker of the three pairs each side
    of it), with a stand-in engine that shimmers like per-frame stylisation does."""
    sink = FolderSegments(tmp_path / "segments")
    with pytest.raises(RuntimeError):
        stylize_video(pan_clip, tmp_path / "out.mp4", StandInStylizer(flicker=0.04,
                      fail_at_call=10), 128, LIMITS, batch_size=2, sink=sink,
                      segment_seconds=SEGMENT_S)
    stylize_video(pan_clip, tmp_path / "out.mp4", StandInStylizer(flicker=0.04, seed=5), 128,
                  LIMITS, batch_size=2, sink=sink, segment_seconds=SEGMENT_S)
    pairs = _pair_flicker(list(iter_frames(pan_clip, (128, 96))),
                          list(iter_frames(tmp_path / "out.mp4")))
    join = pairs[11]                                      # frame 11 -> 12
    return join, float(np.mean(pairs[8:11] + pairs[12:15]))


def test_a_resumed_clip_has_no_flicker_at_the_join(tmp_path: Path, pan_clip: Path) -> None:
    """The stabiliser carries on from the last committed frame, so the join between the two
    runs is as smooth as the frames around it."""
    join, neighbours = _resumed_flicker(tmp_path / "primed", pan_clip)
    assert join <= 1.25 * neighbours, (join, neighbours)


def test_without_carrying_on_the_join_would_show(tmp_path: Path, pan_clip: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: a stabiliser started afresh at the resume jumps there."""
    from app.video import pipeline
    from app.video.temporal import Stabiliser

    monkeypatch.setattr(pipeline, "_primed_stabiliser", lambda sink, done: Stabiliser())
    join, neighbours = _resumed_flicker(tmp_path / "fresh", pan_clip)
    assert join > 1.5 * neighbours, (join, neighbours)


def test_trim_makes_only_the_stretch_with_its_sound(tmp_path: Path, pan_clip: Path) -> None:
    stylizer = StandInStylizer()
    out = tmp_path / "trimmed.mp4"
    info = stylize_video(pan_clip, out, stylizer, 128, LIMITS, trim=(0.5, 1.5))
    assert stylizer.frames_seen == 24 and info.frame_count == 24
    result = inspect_video(out, LIMITS)
    assert result.frame_count == 24
    assert result.duration == pytest.approx(1.0, abs=0.05)
    assert _sound_seconds(out) == pytest.approx(1.0, abs=0.06)
    first = next(iter(iter_frames(out)))
    source = list(iter_frames(pan_clip, (128, 96)))
    errors = [np.abs(first.astype(int) - StandInStylizer.sepia(f)).mean() for f in source]
    assert int(np.argmin(errors)) == 12          # the output starts 0.5 s into the source


@pytest.mark.parametrize("trim, message", [((1.5, 0.5), "must come after its start"),
                                           ((5.0, None), "after its end")])
def test_a_stretch_outside_the_clip_is_refused(tmp_path: Path, pan_clip: Path,
                                               trim: tuple, message: str) -> None:
    from app.engine.errors import StyleTransferError

    with pytest.raises(StyleTransferError, match=message):
        stylize_video(pan_clip, tmp_path / "out.mp4", StandInStylizer(), 128, LIMITS, trim=trim)
    assert list(tmp_path.iterdir()) == []


def _sound_packets(path: Path) -> list[tuple]:
    with av.open(str(path)) as clip:
        return [(p.pts, p.dts, bytes(p)) for p in clip.demux(clip.streams.audio[0]) if p.size]


def test_the_sound_is_the_inputs_packet_for_packet_priming_included(tmp_path: Path) -> None:
    """An AAC track starts with the encoder's priming packet at pts -1024, covered by an
    edit list; the delivered file keeps it, so every sound packet is the input's."""
    from tests.support.clips import pan_frames, write_clip

    src = write_clip(tmp_path / "in.mp4", pan_frames("coffee.png", (96, 64), 24),
                     tone_hz=440.0)
    source = _sound_packets(src)
    assert source[0][0] < 0                                   # the priming packet
    stylize_video(src, tmp_path / "out.mp4", StandInStylizer(), 64, LIMITS,
                  segment_seconds=SEGMENT_S)
    assert _sound_packets(tmp_path / "out.mp4") == source
    decoded = [sum(f.samples for f in av.open(str(p)).decode(audio=0))
               for p in (src, tmp_path / "out.mp4")]
    assert decoded[0] == decoded[1]


def test_a_trimmed_stretch_starts_its_sound_with_the_packet_before_it(tmp_path: Path,
                                                                      pan_clip: Path) -> None:
    """The decoder needs the packet before the stretch to decode its first one; it goes in
    at a negative time, under the edit list, and the sound still starts at 0."""
    stylize_video(pan_clip, tmp_path / "out.mp4", StandInStylizer(), 64, LIMITS,
                  trim=(0.5, None))
    source, made = _sound_packets(pan_clip), _sound_packets(tmp_path / "out.mp4")
    assert made[0][0] < 0 and [p[2] for p in made] == [p[2] for p in source[-len(made):]]
    with av.open(str(tmp_path / "out.mp4")) as clip:
        first = next(clip.decode(audio=0))
        assert first.time == pytest.approx(0.0, abs=1e-3)
