"""A fresh clone, run the way a new user would: nothing beside it (no ../shared), an empty
HOME, no DREAMGEN_* settings, and no network (a start-up hook refuses every connection but
loopback, and DREAMGEN_OFFLINE stays unset so that refusal is what is tested). The bundled
MicroAST and pruned VGG-19 weights must make MicroAST and "Painterly (slow)" work at once."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.install.support import REFUSED, REPO_ROOT, bare_env, run, write_network_guard
from tests.support.shared import shared_file

pytestmark = pytest.mark.slow
READY_OFFLINE = ("microast", "gatys-lite")


def clone_head(target: Path) -> Path:
    """``git clone`` of the repository's committed HEAD into ``target``."""
    run(["git", "clone", "--quiet", "--no-hardlinks", REPO_ROOT, target], timeout_s=120)
    return target


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Path]:
    """(clone, environment, working folder) shared by the tests of this module."""
    root = tmp_path_factory.mktemp("fresh")
    clone = clone_head(root / "checkout" / "dreamgen")     # alone in its parent folder
    guard = write_network_guard(root / "guard")
    env = bare_env(root / "home", PYTHONPATH=f"{clone}{os.pathsep}{guard}")
    work = root / "work"
    work.mkdir()
    return clone, env, work


def python(env: dict[str, str], work: Path, *args: str, timeout_s: float = 300) -> str:
    """Run this venv's interpreter with the clone's ``app`` package, in ``work``."""
    return run([sys.executable, *args], timeout_s=timeout_s, env=env, cwd=work)


def test_the_clone_imports_its_own_package_and_has_no_network(
        fresh: tuple[Path, dict[str, str], Path]) -> None:
    clone, env, work = fresh
    where = python(env, work, "-c", "import app; print(app.__file__)").strip()
    assert Path(where).resolve().is_relative_to(clone.resolve()), where
    assert not (clone.parent / "shared").exists() and sorted(clone.parent.iterdir()) == [clone]
    probe = python(env, work, "-c", (
        "import socket, urllib.request\n"
        "for attempt in (lambda: socket.create_connection(('192.0.2.1', 80), timeout=5),\n"
        "                lambda: urllib.request.urlopen('https://github.com', timeout=5)):\n"
        "    try:\n"
        "        attempt()\n"
        "    except OSError as exc:\n"
        "        print('refused:', exc)\n"))
    assert probe.count(REFUSED) == 2, probe


def test_engines_shows_the_bundled_engines_ready(
        fresh: tuple[Path, dict[str, str], Path]) -> None:
    clone, env, work = fresh
    lines = python(env, work, "-m", "app.cli", "engines").splitlines()
    for name in READY_OFFLINE:
        [line] = [ln for ln in lines if ln.split()[:1] == [name]]
        assert " ready " in line and "not ready" not in line, line
        assert "bundled with dreamgen" in line, line


def test_stylize_writes_a_real_picture_offline(
        fresh: tuple[Path, dict[str, str], Path]) -> None:
    clone, env, work = fresh
    photo, style = work / "photo.png", work / "style.png"
    shutil.copy(shared_file("media/chelsea.png"), photo)
    shutil.copy(shared_file("media/brick.png"), style)
    output = python(env, work, "-m", "app.cli", "stylize", "photo.png", "style.png",
                    "-o", "out.png", "--size", "64", "--engine", "microast")
    assert "wrote out.png" in output
    with Image.open(work / "out.png") as result, Image.open(photo) as original:
        result.load()
        assert result.format == "PNG" and result.mode == "RGB"
        width, height = original.size
        assert max(result.size) == 64
        assert abs(result.height - 64 * height / width) <= 8, result.size
        small = original.convert("RGB").resize(result.size, Image.Resampling.LANCZOS)
        pixels, before = np.asarray(result, dtype=np.float32), np.asarray(small, np.float32)
    assert pixels.std() > 10                              # a picture, not a flat fill
    assert np.abs(pixels - before).mean() > 10            # restyled, not the photo again
    assert not (clone / "data").exists()                  # nothing written into the clone
