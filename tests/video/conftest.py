"""Fixtures for the video tests: the shared clip, generated clips, a tmp folder per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.clips import PAN_CLIP, MEDIA


@pytest.fixture(scope="session")
def pan_clip() -> Path:
    """``../shared/media/pan_24fps_2s.mp4``: 48 frames, 24 fps, 320x240, AAC mono tone."""
    if not PAN_CLIP.exists():
        pytest.fail(f"{PAN_CLIP} is missing; the video tests need ../shared/media beside the "
                    f"repository (see ../shared/README.md); looked in {MEDIA}", pytrace=False)
    return PAN_CLIP
