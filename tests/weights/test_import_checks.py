"""What an import may read (app/engine/weights/import_checks.py): never the studio's own files nor the
system's, no special files, no links out, only files named and sized like weights, each
refusal a sentence. The web page and `dreamgen weights import` share these checks."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
from pathlib import Path
from typing import Iterator

import pytest

from app.engine.weights import import_checks
from app.engine.weights.downloads import import_weights
from app.engine.weights.import_checks import ImportRefused
from app.engine.weights.store import WeightStore
from app.settings import Settings
from tests.weights.support import shared_dir

MODULATOR = "microast/modulator_iter_160000.pth.tar"


@pytest.fixture
def studio(tmp_path: Path, cache: Path) -> WeightStore:
    """The store of a studio whose data folder holds a live SQLite database in WAL mode."""
    settings = Settings(data_dir=tmp_path / "data", weights_cache_dir=cache, weights_dir=None)
    (tmp_path / "data" / "media").mkdir(parents=True)
    with sqlite3.connect(tmp_path / "data" / "dreamgen.db") as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (x)")
    return WeightStore.from_settings(settings)


@pytest.fixture
def stick(tmp_path: Path) -> Path:
    """A folder holding one real weight file."""
    folder = tmp_path / "stick"
    folder.mkdir()
    shutil.copyfile(shared_dir("weights") / MODULATOR, folder / "modulator_iter_160000.pth.tar")
    return folder


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every path the import opens, through os.open or open()."""
    paths: list[str] = []
    real_os_open, real_open = os.open, open

    def spy_os_open(path: object, *args: object, **kwargs: object) -> int:
        paths.append(os.fspath(path))              # type: ignore[arg-type]
        return real_os_open(path, *args, **kwargs)  # type: ignore[arg-type]

    def spy_open(path: object, *args: object, **kwargs: object) -> object:
        paths.append(os.fspath(path) if isinstance(path, (str, Path)) else repr(path))
        return real_open(path, *args, **kwargs)     # type: ignore[call-overload]

    monkeypatch.setattr(import_checks.os, "open", spy_os_open)
    monkeypatch.setattr("builtins.open", spy_open)
    yield paths


def refusal(store: WeightStore, path: Path | str) -> str:
    with pytest.raises(ImportRefused) as caught:
        import_weights(store, [path])
    message = str(caught.value)
    assert "Errno" not in message and "Traceback" not in message
    return message


def test_system_folders_and_impossible_paths_are_refused(studio: WeightStore,
                                                         opened: list[str]) -> None:
    for path in ("/", "/proc", "/proc/self/fd", "/proc/self/fd/", "/sys", "/dev", "/run",
                 "/dev/null", "/proc/../proc/self"):
        assert "is a system folder" in refusal(studio, path), path
    assert "longer than a path" in refusal(studio, "/" + "a" * 10_000)
    assert "longer than a path" in refusal(studio, "/tmp/" + "b" * 300)
    assert "NUL" in refusal(studio, "/tmp/x\0y")
    assert opened == []


def test_the_studios_own_folders_and_those_around_them_are_refused(
        studio: WeightStore, tmp_path: Path, opened: list[str]) -> None:
    data = tmp_path / "data"
    (tmp_path / "data-link").symlink_to(data)
    for path in (data, data / "media", data / "dreamgen.db", data / "dreamgen.db-wal",
                 tmp_path, tmp_path / "data-link", tmp_path / "data" / ".." / "data"):
        assert "the studio's own files" in refusal(studio, path), path
    assert opened == []


def test_a_database_elsewhere_protects_its_folder(cache: Path, tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    settings = Settings(data_dir=tmp_path / "data", weights_cache_dir=cache,
                        database_url=f"sqlite:///{tmp_path / 'db' / 'jobs.db'}")
    store = WeightStore.from_settings(settings)
    assert "the studio's own files" in refusal(store, tmp_path / "db")


def test_special_files_links_out_and_hard_links_to_the_database_are_refused(
        studio: WeightStore, stick: Path, tmp_path: Path, opened: list[str]) -> None:
    fifo = tmp_path / "pipe.pth"
    os.mkfifo(fifo)
    assert "special file" in refusal(studio, fifo)

    os.mkfifo(stick / "blocked.pth")               # a read would wait for ever
    assert "special file" in refusal(studio, stick)
    (stick / "blocked.pth").unlink()

    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(stick / "listening.pth"))
        assert "special file" in refusal(studio, stick)
    (stick / "listening.pth").unlink()

    for target in (tmp_path / "data" / "dreamgen.db", Path("/etc/passwd")):
        (stick / "decoder.pth").symlink_to(target)
        message = refusal(studio, stick)
        assert f"is a link to {target}, outside {stick}" in message
        (stick / "decoder.pth").unlink()

    os.link(tmp_path / "data" / "dreamgen.db", stick / "decoder.pth")
    assert "the studio's own files or folders under another name" in refusal(studio, stick)
    assert opened == []                            # each refused before anything was opened


def test_only_files_named_and_sized_like_weights_are_opened(
        studio: WeightStore, stick: Path, cache: Path, opened: list[str]) -> None:
    (stick / "notes.txt").write_text("not weights")
    (stick / "wrong-size.pth.tar").write_bytes(b"\0" * 1000)      # no .pth.tar pin is 1000
    (stick / "inside-link.pth.tar").symlink_to(stick / "modulator_iter_160000.pth.tar")
    (stick / "deeper").mkdir()
    (stick / "deeper" / "any-size.pth").write_bytes(b"\0" * 10)    # AdaIN's size is unknown
    report = import_weights(studio, [stick])
    assert [c for _, c in report.imported] == [cache / MODULATOR]
    assert sorted(p.name for p in report.skipped) == ["any-size.pth", "inside-link.pth.tar",
                                                      "notes.txt", "wrong-size.pth.tar"]
    read = [p for p in opened if p.startswith(str(stick))]
    assert sorted(read) == [str(stick / "deeper" / "any-size.pth"),
                            str(stick / "modulator_iter_160000.pth.tar")]


def test_too_many_files_is_a_wrong_folder(studio: WeightStore, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(import_checks, "FILE_LIMIT", 20)
    crowded = tmp_path / "crowded"
    for i in range(21):
        (crowded / str(i % 3)).mkdir(parents=True, exist_ok=True)
        (crowded / str(i % 3) / f"{i}.txt").write_text("x")
    assert "more than 20 files" in refusal(studio, crowded)
