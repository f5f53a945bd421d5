"""stylize_video mechanics with a stand-in engine (tests/video/doubles.py): frames, timing,
sound, container layout, rotation, GIF input, cancellation, clean-up. The real MicroAST
engine runs end to end in test_microast_video.py."""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from app.engine.types import Progress
from app.engine.errors import Cancelled, StyleTransferError
from app.video.decoding import extract_poster, iter_frames
from app.video.pipeline import stylize_video
from app.video.probe import VideoLimits
from tests.support.clips import pan_frames, write_clip, write_gif
from tests.video.doubles import StandInStylizer

MAX_SIDE = 128
LIMITS = VideoLimits()


def _run(stylizer: StandInStylizer, src: Path, dst: Path, **kwargs):
    return stylize_video(src, dst, stylizer, MAX_SIDE, LIMITS, **kwargs)


def _streams(path: Path) -> dict:
    with av.open(str(path)) as clip:
        video = clip.streams.video[0]
        facts = {"codec": video.codec_context.name, "pix_fmt": video.codec_context.pix_fmt,
                 "size": (video.codec_context.width, video.codec_context.height),
                 "rate": float(video.average_rate),
                 "video_seconds": float(video.duration * video.time_base),
                 "audio": None}
        if clip.streams.audio:
            audio = clip.streams.audio[0]
            facts["audio"] = (audio.codec_context.name, float(audio.duration * audio.time_base))
        facts["frames"] = sum(1 for _ in clip.decode(video=0))
    return facts


def _top_level_boxes(path: Path) -> list[str]:
    data, boxes, offset = path.read_bytes(), [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset:offset + 4], "big")
        boxes.append(data[offset + 4:offset + 8].decode("latin-1"))
        if size == 1:
            size = int.from_bytes(data[offset + 8:offset + 16], "big")
        offset += size if size else len(data)
    return boxes


def test_pan_clip_keeps_frames_rate_duration_and_sound(tmp_path: Path, pan_clip: Path,
                                                       monkeypatch) -> None:
    stylizer = StandInStylizer()
    reports: list[Progress] = []
    out = tmp_path / "out.mp4"
    info = _run(stylizer, pan_clip, out, on_progress=reports.append, batch_size=4)
    source, result = _streams(pan_clip), _streams(out)
    assert result["frames"] == 48 and info.frame_count == 48
    assert result["rate"] == pytest.approx(24.0)
    assert result["video_seconds"] == pytest.approx(source["video_seconds"], abs=1 / 24)
    assert result["audio"][0] == "aac"
    assert result["audio"][1] == pytest.approx(source["audio"][1], abs=0.05)
    assert (result["codec"], result["pix_fmt"]) == ("h264", "yuv420p")
    assert result["size"] == (128, 96) and all(side % 2 == 0 for side in result["size"])
    boxes = _top_level_boxes(out)
    assert boxes.index("moov") < boxes.index("mdat")          # +faststart
    assert stylizer.frames_seen == 48 and stylizer.calls == 12   # batches of 4
    messages = [r.message.split(" · ")[0] for r in reports]
    assert "frame 1 of 48" in messages and messages[-1] == "frame 48 of 48"
    assert reports[1].message.endswith("frames/s") and "eta_s" in reports[1].extras
    fractions = [r.fraction for r in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert all("fps" in r.extras for r in reports)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_sound_in_another_codec_is_reencoded_to_aac(tmp_path: Path, monkeypatch) -> None:
    stylizer = StandInStylizer()
    src = write_clip(tmp_path / "in.mkv", pan_frames("coffee.png", (96, 64), 24),
                     tone_hz=440.0, audio_codec="libopus", container="matroska")
    out = tmp_path / "out.mp4"
    info = _run(stylizer, src, out)
    result = _streams(out)
    assert info.audio_codec == "aac" and result["audio"][0] == "aac"
    assert result["audio"][1] == pytest.approx(1.0, abs=0.06)
    assert result["frames"] == 24


def test_rotated_clip_comes_out_upright(tmp_path: Path, monkeypatch) -> None:
    stylizer = StandInStylizer(identity=True)
    upright = np.zeros((96, 64, 3), np.uint8)        # portrait: bright top, dark bottom
    upright[:48] = (230, 40, 40)
    upright[48:] = (20, 20, 120)
    stored = np.ascontiguousarray(np.rot90(upright, k=-1))   # how a phone stores it
    src = write_clip(tmp_path / "phone.mp4", [stored] * 6, rotation=90)
    assert next(iter_frames(src))[:10].mean() > next(iter_frames(src))[-10:].mean()
    out = tmp_path / "out.mp4"
    info = _run(stylizer, src, out)
    frame = next(iter_frames(out))
    assert (info.width, info.height, info.rotation) == (64, 96, 0)
    assert frame.shape[:2] == (96, 64)
    assert frame[:40, :, 0].mean() > 180 and frame[-40:, :, 0].mean() < 60
    poster = extract_poster(src)
    assert poster.size == (64, 96) and poster.getpixel((32, 5))[0] > 180


def test_animated_gif_becomes_an_mp4_without_sound(tmp_path: Path, monkeypatch) -> None:
    stylizer = StandInStylizer()
    src = write_gif(tmp_path / "in.gif", pan_frames("chelsea.png", (80, 60), 10), fps=10)
    out = tmp_path / "out.mp4"
    info = _run(stylizer, src, out)
    result = _streams(out)
    assert result["frames"] == 10 and result["audio"] is None and not info.has_audio
    assert result["video_seconds"] == pytest.approx(1.0, abs=0.1)
    assert all(side % 8 == 0 for side in result["size"])


def test_cancel_stops_promptly_and_leaves_nothing(tmp_path: Path, pan_clip: Path,
                                                  monkeypatch) -> None:
    stylizer = StandInStylizer()
    cancel = threading.Event()

    def on_progress(report: Progress) -> None:
        if report.message.startswith("frame 5 of 48"):
            cancel.set()

    with pytest.raises(Cancelled):
        _run(stylizer, pan_clip, tmp_path / "out.mp4", on_progress=on_progress, cancel=cancel,
             batch_size=2)
    assert stylizer.frames_seen <= 6
    assert list(tmp_path.iterdir()) == []
    assert not [t for t in threading.enumerate() if t.name.startswith("video-")]


def test_engine_failure_leaves_no_file(tmp_path: Path, pan_clip: Path, monkeypatch) -> None:
    stylizer = StandInStylizer(fail_at_call=3)
    with pytest.raises(RuntimeError, match="stand-in engine failure"):
        _run(stylizer, pan_clip, tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []


def test_a_clip_too_thin_at_the_output_size_is_refused(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "thin.mp4", pan_frames("coffee.png", (400, 16), 10))
    stylizer = StandInStylizer()
    with pytest.raises(StyleTransferError, match="shorter side must be at least 16 px"):
        stylize_video(src, tmp_path / "out.mp4", stylizer, 64, LIMITS)
    assert stylizer.calls == 0 and [p.name for p in tmp_path.iterdir()] == ["thin.mp4"]


def test_clip_over_the_limits_is_refused_before_work(tmp_path: Path, pan_clip: Path,
                                                     monkeypatch) -> None:
    stylizer = StandInStylizer()
    with pytest.raises(StyleTransferError, match="limit is 10"):
        stylize_video(pan_clip, tmp_path / "out.mp4", stylizer, MAX_SIDE,
                      VideoLimits(max_frames=10))
    assert stylizer.calls == 0 and list(tmp_path.iterdir()) == []


def test_poster_is_a_frame_about_one_second_in(pan_clip: Path) -> None:
    poster = np.asarray(extract_poster(pan_clip)).astype(int)
    frames = list(iter_frames(pan_clip))
    errors = [np.abs(poster - f).mean() for f in frames]
    assert poster.shape == (240, 320, 3)
    assert int(np.argmin(errors)) == 24 and min(errors) < 1.0


def test_variable_frame_rate_keeps_each_frames_time(tmp_path: Path, monkeypatch) -> None:
    stylizer = StandInStylizer()
    stamps = [0, 1, 2, 4, 5, 8, 9, 12, 13, 14]           # in 1/24 s: gaps of 1, 2 and 3
    src = tmp_path / "vfr.mp4"
    with av.open(str(src), mode="w", format="mp4") as out:
        video = out.add_stream("libx264", rate=24)
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        video.codec_context.time_base = Fraction(1, 24)
        for pts, rgb in zip(stamps, pan_frames("coffee.png", (96, 64), len(stamps))):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 24)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    out_path = tmp_path / "out.mp4"
    _run(stylizer, src, out_path)

    def times(path: Path) -> list[float]:
        with av.open(str(path)) as clip:
            return [round(float(f.time) * 24, 3) for f in clip.decode(video=0)]

    assert times(src) == [float(s) for s in stamps]
    assert times(out_path) == times(src)


def test_decoding_runs_only_a_bounded_distance_ahead(tmp_path: Path, pan_clip: Path,
                                                     monkeypatch) -> None:
    """Memory stays flat: while the engine is stuck, the decoder stops a queue's length ahead
    (a queue of 2 * batch + 4 = 8 items, the batch in hand, one frame waiting to be queued)."""
    import time

    import app.video.decoding as decoding

    decoded: list[int] = []
    real_upright = decoding.upright_rgb
    monkeypatch.setattr(decoding, "upright_rgb",
                        lambda frame, plan: decoded.append(1) or real_upright(frame, plan))
    ahead: list[int] = []

    class StuckFirstBatch(StandInStylizer):
        def stylize_frames(self, frames):
            if self.calls == 0:      # give the decoder every chance to run away
                deadline = time.monotonic() + 1.5
                while len(decoded) < 48 and time.monotonic() < deadline:
                    threading.Event().wait(0.02)
                ahead.append(len(decoded))
            return super().stylize_frames(frames)

    stylizer = StuckFirstBatch()
    _run(stylizer, pan_clip, tmp_path / "out.mp4", batch_size=2)
    assert len(decoded) == 48
    assert ahead[0] <= 8 + 2 + 1
