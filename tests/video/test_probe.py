"""inspect_video / is_video_file on real clips and on hostile uploads."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import app.video.probe as probe
from app.engine.errors import StyleTransferError
from app.settings import Settings
from app.video.probe import VideoLimits, inspect_video, is_video_file
from tests.support.clips import (media, static_frames, write_audio_only, write_clip, write_gif,
                               write_long_header_clip)

ROOMY = VideoLimits()


def test_pan_clip_is_described(pan_clip: Path) -> None:
    info = inspect_video(pan_clip, ROOMY)
    assert (info.width, info.height, info.fps, info.frame_count) == (320, 240, 24.0, 48)
    assert info.duration == pytest.approx(2.0, abs=1 / 24)
    assert info.has_audio and info.audio_codec == "aac"
    assert info.rotation == 0 and info.container == "mp4" and info.video_codec == "h264"


def test_limits_come_from_settings(pan_clip: Path) -> None:
    settings = Settings(max_video_seconds=1.0, _env_file=None)
    assert VideoLimits.from_settings(settings).max_seconds == 1.0
    with pytest.raises(StyleTransferError, match="limit is 1 seconds"):
        inspect_video(pan_clip, settings)


def test_rotation_swaps_the_reported_size(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "phone.mp4", static_frames("coffee.png", (96, 64), 4),
                      rotation=90)
    info = inspect_video(clip, ROOMY)
    assert (info.width, info.height, info.rotation) == (64, 96, 90)


def test_animated_gif_is_a_video_and_a_still_gif_is_not(tmp_path: Path) -> None:
    animated = write_gif(tmp_path / "a.gif", static_frames("coffee.png", (64, 48), 5))
    still = write_gif(tmp_path / "s.gif", static_frames("coffee.png", (64, 48), 1))
    assert is_video_file(animated) and not is_video_file(still)
    info = inspect_video(animated, ROOMY)
    assert (info.width, info.height, info.frame_count, info.has_audio) == (64, 48, 5, False)


def test_is_video_file_by_magic_bytes_not_name(tmp_path: Path, pan_clip: Path) -> None:
    renamed = tmp_path / "holiday.png"
    shutil.copy(pan_clip, renamed)
    assert is_video_file(renamed)
    fake = tmp_path / "fake.mp4"
    shutil.copy(media("astronaut.png"), fake)
    assert not is_video_file(fake)
    assert not is_video_file(tmp_path / "absent.mp4")


def _playlists(folder: Path) -> list[Path]:
    hls = "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n" \
          "#EXTINF:10,\nhttp://127.0.0.1:9/x.ts\n#EXT-X-ENDLIST\n"
    concat = "ffconcat version 1.0\nfile 'file:///etc/passwd'\nfile 'http://127.0.0.1:9/a.mp4'\n"
    paths = []
    for name, text in (("list.m3u8", hls), ("hls.mp4", hls),
                       ("list.ffconcat", concat), ("concat.mp4", concat)):
        (folder / name).write_text(text)
        paths.append(folder / name)
    return paths


def test_playlists_are_refused_before_any_demuxer_opens_them(tmp_path: Path, monkeypatch) -> None:
    opened: list[tuple] = []
    real_open = probe.av.open
    monkeypatch.setattr(probe.av, "open",
                        lambda *a, **k: opened.append((a, k)) or real_open(*a, **k))
    for playlist in _playlists(tmp_path):
        assert not is_video_file(playlist)
        with pytest.raises(StyleTransferError, match="not a video we can read"):
            inspect_video(playlist, ROOMY)
    assert opened == []


def test_real_clips_are_opened_with_an_explicit_demuxer(pan_clip: Path, monkeypatch) -> None:
    formats: list[str | None] = []
    real_open = probe.av.open
    monkeypatch.setattr(probe.av, "open",
                        lambda *a, **k: formats.append(k.get("format")) or real_open(*a, **k))
    inspect_video(pan_clip, ROOMY)
    assert formats == ["mov"]


@pytest.mark.parametrize("make, message", [
    (lambda d, clip: _cut(clip, d / "cut.mp4", 0.5), "damaged or truncated"),
    (lambda d, clip: _write(d / "zero.mp4", b""), "empty file"),
    (lambda d, clip: write_audio_only(d / "sound.mp4"), "no video stream"),
    (lambda d, clip: _write(d / "noise.mp4", os.urandom(4096)), "not a video we can read"),
    (lambda d, clip: _write(d / "noise2.mp4", b"\x00\x00\x00\x18ftypisom" + os.urandom(4096)),
     "damaged or truncated"),
    (lambda d, clip: write_long_header_clip(d / "ten_hours.mp4"), "10:00:00 long"),
])
def test_hostile_files_are_refused(tmp_path: Path, pan_clip: Path, make, message: str) -> None:
    path = make(tmp_path, pan_clip)
    with pytest.raises(StyleTransferError, match=message):
        inspect_video(path, ROOMY)


def test_cut_faststart_clip_is_refused(tmp_path: Path) -> None:
    """An MP4 with its index in front but the picture data cut short."""
    import av

    clip = tmp_path / "fast.mp4"
    frames = list(static_frames("coffee.png", (64, 48), 24))
    write_clip(clip, frames)
    fast = tmp_path / "fast2.mp4"
    with av.open(str(clip)) as src, av.open(str(fast), "w", format="mp4",
                                            options={"movflags": "+faststart"}) as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.size:
                packet.stream = stream
                dst.mux(packet)
    with pytest.raises(StyleTransferError, match="truncated"):
        inspect_video(_cut(fast, tmp_path / "cut.mp4", 0.6), ROOMY)


@pytest.mark.parametrize("limits, message", [
    (VideoLimits(max_seconds=1.0), "limit is 1 seconds"),
    (VideoLimits(max_frames=10), "limit is 10"),
    (VideoLimits(max_side=200), "limit is 200 pixels"),
    (VideoLimits(max_bytes=1000), "MiB"),
])
def test_clips_over_the_limits_are_refused(pan_clip: Path, limits: VideoLimits,
                                           message: str) -> None:
    with pytest.raises(StyleTransferError, match=message):
        inspect_video(pan_clip, limits)


def _cut(source: Path, target: Path, fraction: float) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[:int(len(data) * fraction)])
    return target


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
