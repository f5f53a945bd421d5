"""The media store: atomic writes, traversal refusal, crash leftovers cleaned."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.storage import TEMP_PREFIX, MediaPathError, MediaStore


def test_save_upload_writes_under_an_unguessable_name(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    rel = store.save_upload(b"hello", ".png")
    assert rel.startswith("uploads/") and rel.endswith(".png")
    assert store.path(rel).read_bytes() == b"hello"
    other = store.save_upload(b"hello", ".png")
    assert other != rel and store.files() == {rel, other}


@pytest.mark.parametrize("rel", ["../etc/passwd", "/etc/passwd", "uploads/../../x",
                                 "uploads\\..\\x", "", "a\x00b", "."])
def test_paths_outside_the_media_folder_are_refused(tmp_path: Path, rel: str) -> None:
    store = MediaStore(tmp_path / "media")
    (tmp_path / "x").write_text("secret")
    with pytest.raises(MediaPathError):
        store.path(rel)
    assert not store.exists(rel)


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    rel = store.new_result_path(".png")

    def writer(temp: Path) -> None:
        temp.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        store.write_atomic(rel, writer)
    assert not store.exists(rel)
    assert store.files() == set()
    assert not list(tmp_path.rglob(f"{TEMP_PREFIX}*"))


def test_callable_writer_and_cleanup_of_crash_leftovers(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    rel = store.new_result_path(".bin")
    store.write_atomic(rel, lambda temp: temp.write_bytes(b"abc"))
    assert store.path(rel).read_bytes() == b"abc"
    leftover = store.temp_path_for(rel)
    leftover.write_bytes(b"partial")
    assert store.files() == {rel}  # temporaries are never listed as media
    assert store.cleanup_temp() == 1 and not leftover.exists()
    store.remove([rel, "results/gone.png", "../outside"])
    assert store.files() == set()


def test_bad_suffixes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaPathError):
        MediaStore(tmp_path).new_path("uploads", "/../x")
