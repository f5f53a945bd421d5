"""Downloads against a local HTTP server: success, wrong hash, truncation, offline, errors."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

import dataclasses

from app.engine.weights import store as weights
from app.engine.weights.downloads import WeightsDownloadError, download
from app.engine.registry import get_engine
from app.engine.weights.store import WeightFile, WeightStore
from tests.weights.support import FileServer, Route, leftovers, shared_dir


def _blob(size: int = 300_000, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def _entry(server: FileServer, body: bytes, known_size: bool = True) -> WeightFile:
    server.routes["/files/blob.bin"] = Route(body)
    return WeightFile("test/blob.bin", f"{server.url}/files/blob.bin",
                      len(body) if known_size else None, hashlib.sha256(body).hexdigest())


def test_download_streams_verifies_and_renames_into_place(
        cache: Path, store: WeightStore, server: FileServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    body = _blob()
    entry = _entry(server, body)
    [path] = download(store, [entry])
    assert path == cache / "test" / "blob.bin"
    assert path.read_bytes() == body
    assert leftovers(cache) == [path]  # no temporary file left beside it
    progress = capsys.readouterr().err
    assert "test/blob.bin" in progress and "100%" in progress
    assert server.requests == ["/files/blob.bin"]


def test_download_keeps_an_intact_copy_without_asking_again(cache: Path, store: WeightStore,
                                                            server: FileServer) -> None:
    entry = _entry(server, _blob())
    download(store, [entry], progress=False)
    download(store, [entry], progress=False)
    assert server.requests == ["/files/blob.bin"]


def test_download_replaces_a_corrupt_copy(cache: Path, store: WeightStore,
        server: FileServer) -> None:
    body = _blob()
    entry = _entry(server, body)
    (cache / "test").mkdir(parents=True)
    (cache / "test" / "blob.bin").write_bytes(b"half a file")
    [path] = download(store, [entry], progress=False)
    assert path.read_bytes() == body and leftovers(cache) == [path]


def test_mirror_serves_real_microast_weights(cache: Path, store: WeightStore,
                                             server: FileServer) -> None:
    server.serve_folder(shared_dir("weights"), prefix="mirror/")
    mirrored = dataclasses.replace(store, mirror=f"{server.url}/mirror/")
    files = get_engine("microast").weights
    assert not mirrored.engine_ready("microast")
    paths = download(mirrored, files, progress=False)
    assert paths == [cache / name for name in files]
    assert sorted(server.requests) == sorted(f"/mirror/{n}" for n in files)
    assert mirrored.engine_ready("microast")
    assert leftovers(cache) == sorted(paths)


def test_progress_callback_sees_every_chunk(cache: Path, store: WeightStore,
                                            server: FileServer) -> None:
    body = weights.CHUNK_BYTES * 2 + 123
    entry = _entry(server, _blob(body))
    seen: list[tuple[str, int, int | None]] = []
    download(store, [entry], progress=False,
             on_bytes=lambda file, got, total: seen.append((file.name, got, total)))
    assert [got for _, got, _ in seen] == [weights.CHUNK_BYTES, 2 * weights.CHUNK_BYTES, body]
    assert {(name, total) for name, _, total in seen} == {("test/blob.bin", body)}


def test_wrong_hash_is_refused_and_nothing_kept(cache: Path, store: WeightStore,
        server: FileServer) -> None:
    # A "mirror" that serves something else under the real name.
    server.routes["/adain/decoder.pth"] = Route(_blob(50_000))
    with pytest.raises(WeightsDownloadError, match="SHA-256") as caught:
        download(store, ["adain/decoder.pth"], base_url=server.url, progress=False)
    assert "379ca41d" in str(caught.value) and "discarded" in str(caught.value)
    assert leftovers(cache) == []


@pytest.mark.parametrize("known_size", [True, False])
def test_truncated_transfer_is_refused_and_nothing_kept(cache: Path, store: WeightStore, server: FileServer,
                                                        known_size: bool) -> None:
    body = _blob()
    entry = _entry(server, body, known_size)
    server.routes["/files/blob.bin"] = Route(body, send=len(body) // 2)
    with pytest.raises(WeightsDownloadError, match="cut short") as caught:
        download(store, [entry], progress=False)
    assert f"{len(body) // 2} of {len(body)} bytes" in str(caught.value)
    assert leftovers(cache) == []


def test_offline_store_refuses_without_a_request(cache: Path, store: WeightStore,
                                                 server: FileServer) -> None:
    entry = _entry(server, _blob())
    with pytest.raises(WeightsDownloadError, match="Offline mode is on") as caught:
        download(dataclasses.replace(store, offline=True), [entry])
    assert "import them from a folder" in str(caught.value)
    assert server.requests == [] and leftovers(cache) == []


def test_http_error_is_reported_and_nothing_kept(cache: Path, store: WeightStore,
        server: FileServer) -> None:
    with pytest.raises(WeightsDownloadError, match="HTTP 404"):
        download(store, ["adain/decoder.pth"], base_url=server.url, progress=False)
    assert leftovers(cache) == []


def test_a_silent_server_times_out(cache: Path, store: WeightStore,
        server: FileServer) -> None:
    entry = _entry(server, _blob())
    server.routes["/files/blob.bin"] = Route(b"", hang=True)
    with pytest.raises(WeightsDownloadError, match="timed out"):
        download(store, [entry], progress=False, timeout=0.5)
    assert leftovers(cache) == []


def test_an_oversized_file_is_cut_off(cache: Path, store: WeightStore,
        server: FileServer) -> None:
    body = _blob()
    entry = _entry(server, body)
    server.routes["/files/blob.bin"] = Route(body + _blob(2 * weights.CHUNK_BYTES, seed=1))
    with pytest.raises(WeightsDownloadError, match="larger than the expected"):
        download(store, [entry], progress=False)
    assert leftovers(cache) == []


def test_a_killed_download_leaves_no_partial_file_for_long(cache: Path, store: WeightStore,
                                                           server: FileServer) -> None:
    """A process killed mid-download leaves its ``.part`` file; the next download of that
    file removes it once it is old enough that no live download can own it."""
    import os

    body = _blob()
    entry = _entry(server, body)
    folder = cache / "test"
    folder.mkdir(parents=True)
    stale, live = folder / ".blob.bin.k1ll3d.part", folder / ".blob.bin.st1ll.part"
    stale.write_bytes(body[:1000])
    live.write_bytes(body[:1000])
    os.utime(stale, (1, 1))                       # untouched for decades
    other = folder / ".other.bin.old.part"        # another file's download: not this one's
    other.write_bytes(b"x")
    os.utime(other, (1, 1))
    [path] = download(store, [entry])
    assert leftovers(cache) == sorted([path, live, other])


def test_an_unknown_host_is_said_in_words_not_errno(cache: Path, store: WeightStore) -> None:
    """Offline, the admin page showed "[Errno -2] Name or service not known"."""
    entry = WeightFile("test/blob.bin", "http://weights.invalid/blob.bin", 10, "0" * 64)
    with pytest.raises(WeightsDownloadError) as caught:
        download(store, [entry], progress=False, timeout=5)
    message = str(caught.value)
    assert "the address could not be found (is this machine offline?)" in message, message
    assert "Errno" not in message and leftovers(cache) == []


def test_nothing_answering_is_said_in_words(cache: Path, store: WeightStore) -> None:
    import socket

    with socket.socket() as closed:          # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    entry = WeightFile("test/blob.bin", f"http://127.0.0.1:{port}/blob.bin", 10, "0" * 64)
    with pytest.raises(WeightsDownloadError, match="nothing answers at that address") as caught:
        download(store, [entry], progress=False, timeout=5)
    assert "Errno" not in str(caught.value)
