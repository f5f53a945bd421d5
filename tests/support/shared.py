"""The team's shared folder (``../shared`` beside the repository): real media and weights."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = (Path(__file__).resolve().parents[2] / ".." / "shared").resolve()


def shared_dir(name: str) -> Path:
    """``../shared/<name>``, failing clearly when the shared folder is missing."""
    folder = SHARED / name
    if not folder.is_dir():
        pytest.fail(f"{folder} is missing; the tests need the shared weights and media "
                    "beside the repository (see README, Requirements)")
    return folder


def shared_file(relative: str) -> Path:
    """``../shared/<relative>``, failing clearly when it is missing."""
    path = SHARED / relative
    if not path.is_file():
        pytest.fail(f"{path} is missing; the tests need the real files in ../shared beside "
                    "the repository")
    return path
