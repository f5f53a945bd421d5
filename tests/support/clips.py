"""Real clip files for tests and the video benchmark, written with PyAV and Pillow.

Everything is generated from the photographs in ``../shared/media`` (found relative to the
repository root), so nothing here is a mock: the pipeline reads real MP4/GIF files.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import av
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
MEDIA = (REPO / ".." / "shared" / "media").resolve()
PAN_CLIP = MEDIA / "pan_24fps_2s.mp4"


def media(name: str) -> Path:
    """A file of ``../shared/media``, failing clearly when the folder is missing."""
    path = MEDIA / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; the video tests and benchmark need "
                                "../shared/media beside the repository (../shared/README.md)")
    return path


def photo(name: str, size: tuple[int, int]) -> np.ndarray:
    """A shared photograph as an RGB uint8 array of ``size`` (width, height)."""
    image = Image.open(media(name)).convert("RGB").resize(size, Image.Resampling.LANCZOS)
    return np.asarray(image)


def static_frames(name: str, size: tuple[int, int], count: int, noise: float = 3.0,
                  light: float = 0.04, seed: int = 0) -> Iterator[np.ndarray]:
    """A still photo as a static-camera shot: sensor noise (std in grey levels) on every
    frame and a slow lighting change of +-``light`` (fraction of brightness)."""
    base = photo(name, size).astype(np.float32)
    rng = np.random.default_rng(seed)
    for index in range(count):
        gain = 1.0 + light * np.sin(2 * np.pi * index / max(count, 1))
        frame = base * gain + rng.normal(0.0, noise, base.shape)
        yield np.clip(frame, 0, 255).astype(np.uint8)


def pan_frames(name: str, size: tuple[int, int], count: int,
               step: int = 4) -> Iterator[np.ndarray]:
    """A camera pan of ``step`` pixels per frame across a photo scaled to cover it."""
    width, height = size
    base = photo(name, (width + step * count, height))
    for index in range(count):
        yield np.ascontiguousarray(base[:, index * step:index * step + width])


def with_grain(frames: Iterable[np.ndarray], noise: float = 3.0,
               seed: int = 0) -> Iterator[np.ndarray]:
    """Sensor grain: fresh Gaussian noise (std ``noise`` grey levels) on every frame."""
    rng = np.random.default_rng(seed)
    for frame in frames:
        grainy = frame.astype(np.float32) + rng.normal(0.0, noise, frame.shape)
        yield np.clip(grainy, 0, 255).astype(np.uint8)


def moving_object_frames(name: str, thing: str, size: tuple[int, int], count: int,
                         step: int = 4, radius: int = 0) -> Iterator[np.ndarray]:
    """A static camera on the photo ``name`` while a disc cut from the photo ``thing``
    crosses it from left to right, ``step`` pixels a frame (the rest of the frame never
    moves: add :func:`with_grain` for a real camera's noise)."""
    width, height = size
    radius = radius or height // 5
    background = photo(name, size)
    disc = photo(thing, (2 * radius, 2 * radius))
    ys, xs = np.mgrid[-radius:radius, -radius:radius]
    inside = (xs + 0.5) ** 2 + (ys + 0.5) ** 2 <= radius ** 2
    top = height // 2 - radius
    for index in range(count):
        frame = background.copy()
        left = index * step - radius
        lo, hi = max(0, left), min(width, left + 2 * radius)
        if lo < hi:
            window = frame[top:top + 2 * radius, lo:hi]
            mask = inside[:, lo - left:hi - left]
            window[mask] = disc[:, lo - left:hi - left][mask]
        yield frame


def cut_frames(first: str, second: str, size: tuple[int, int], count: int,
               cut_at: int, step: int = 3) -> Iterator[np.ndarray]:
    """A pan across ``first``, then a hard cut at frame ``cut_at`` to a pan across
    ``second`` (the other way)."""
    yield from pan_frames(first, size, cut_at, step)
    later = list(pan_frames(second, size, count - cut_at, step))
    yield from reversed(later)


def zoom_frames(name: str, size: tuple[int, int], count: int,
                rate: float = 1.015) -> Iterator[np.ndarray]:
    """A zoom into the middle of a photo, ``rate`` times closer every frame."""
    width, height = size
    image = Image.open(media(name)).convert("RGB")
    scale = max(width / image.width, height / image.height) * 2.0
    image = image.resize((round(image.width * scale), round(image.height * scale)),
                         Image.Resampling.LANCZOS)
    cx, cy = image.width / 2, image.height / 2
    for index in range(count):
        half_w = image.width / 2 / rate ** index
        half_h = half_w * height / width
        box = (cx - half_w, cy - half_h, cx + half_w, cy + half_h)
        yield np.asarray(image.resize(size, Image.Resampling.BILINEAR, box=box))


def write_clip(path: Path, frames: Iterable[np.ndarray], fps: int = 24, rotation: int = 0,
               tone_hz: float | None = None, codec: str = "libx264",
               audio_codec: str = "aac", container: str = "mp4") -> Path:
    """Encode RGB frames to ``path`` (optionally with display rotation in degrees
    counter-clockwise and a sine tone as long as the video)."""
    frames = list(frames)
    height, width = frames[0].shape[:2]
    with av.open(str(path), mode="w", format=container) as out:
        video = out.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if rotation:
            video.set_display_rotation(rotation)
        audio = None
        if tone_hz:
            audio = out.add_stream(audio_codec, rate=48000 if "opus" in audio_codec else 44100)
            audio.layout = "mono"
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if audio is not None:
            _write_tone(out, audio, tone_hz, len(frames) / fps)
    return path


def _write_tone(out: av.container.OutputContainer, audio: av.AudioStream, hz: float,
                seconds: float) -> None:
    rate, chunk = audio.codec_context.sample_rate, 960
    samples = np.sin(2 * np.pi * hz * np.arange(int(rate * seconds)) / rate) * 0.3
    for start in range(0, len(samples), chunk):
        block = samples[start:start + chunk].astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = rate, start
        out.mux(audio.encode(frame))
    out.mux(audio.encode(None))


def write_audio_only(path: Path, seconds: float = 1.0) -> Path:
    """An MP4 holding only an AAC tone (a sound file with a video file's name)."""
    with av.open(str(path), mode="w", format="mp4") as out:
        audio = out.add_stream("aac", rate=44100)
        audio.layout = "mono"
        _write_tone(out, audio, 440.0, seconds)
    return path


def write_gif(path: Path, frames: Iterable[np.ndarray], fps: int = 10) -> Path:
    """An animated GIF (a single frame gives a still GIF)."""
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=len(images) > 1, append_images=images[1:],
                   duration=int(1000 / fps), loop=0)
    return path


def write_long_header_clip(path: Path, claimed_seconds: float = 36000.0) -> Path:
    """Two real frames, the second stamped ``claimed_seconds`` in: the header claims hours."""
    frames = list(static_frames("coffee.png", (64, 48), 2))
    with av.open(str(path), mode="w", format="mp4") as out:
        video = out.add_stream("libx264", rate=24)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.codec_context.time_base = Fraction(1, 24)
        for pts, rgb in zip((0, int(claimed_seconds * 24)), frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 24)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    return path
