"""What a crash leaves in the media folder goes at the next start, but only when no other
process is using the folder (a live worker's half-written result is not a leftover)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Callable

from fastapi.testclient import TestClient

from app.jobs.sweep import MediaFolderLock
from app.settings import Settings
from app.web.main import create_app
from tests.reliability.corpus import all_files_under
from tests.web.conftest import submit

LEFTOVERS = ["results/2026/11/.tmp-0123456789abcdef-x.png",   # killed before the rename
             "results/2026/11/.tmp-0123456789abcdef0123-y.mp4",  # a clip killed mid-encode
             "results/2026/11/.x.1234abcd.part.mp4",           # an older release's clip temp
             "results/2026/11/orphan.png",                     # killed before the row said so
             "thumbs/2026/11/orphan.jpg", "uploads/2026/11/orphan.png",
             "styles/2026/11/orphan.png"]                      # a library copy never committed


def leave(media: Path, extra: tuple[str, ...] = ()) -> None:
    for rel in (*LEFTOVERS, *extra):
        (media / rel).parent.mkdir(parents=True, exist_ok=True)
        (media / rel).write_bytes(b"half")


def test_a_start_alone_removes_temporary_and_orphaned_files(
        make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(run_worker=False)
    with TestClient(create_app(settings)) as client:
        job = submit(client).json()
        kept = all_files_under(client.app.state.store.root)
    assert any(rel.startswith("styles/") for rel in kept)   # the library's copy is no orphan
    media = Path(settings.media_dir)
    leave(media, ("notes/readme.txt",))             # not ours: never touched
    with TestClient(create_app(settings)) as client:
        assert all_files_under(media) == kept | {"notes/readme.txt"}
        assert client.get(f"/api/jobs/{job['id']}").json()["state"] == "queued"


def test_a_start_beside_a_live_process_leaves_young_files_alone(
        make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(run_worker=False)
    media = Path(settings.media_dir)
    media.mkdir(parents=True)
    leave(media)
    other = MediaFolderLock(media)                   # as `dreamgen worker` elsewhere holds it
    other.acquire_shared()
    try:
        with TestClient(create_app(settings)):
            assert all_files_under(media) == set(LEFTOVERS)
    finally:
        other.release()
    for old in LEFTOVERS[:2]:                        # temporary files from long ago: an
        os.utime(media / old, (1, 1))               # image's and a video's, same naming
    with open(other.path, "rb") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        with TestClient(create_app(settings)):
            assert all_files_under(media) == set(LEFTOVERS[2:])
