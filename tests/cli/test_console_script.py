"""The installed `dreamgen` console script, run as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.weights.support import REPO_ROOT, shared_dir


@pytest.fixture
def dreamgen() -> Path:
    script = Path(sys.executable).parent / "dreamgen"
    if not script.exists():
        pytest.fail(f"{script} is missing; run `.venv/bin/pip install -e . --no-deps` once")
    return script


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DREAMGEN_")}
    clean["DREAMGEN_WEIGHTS_CACHE_DIR"] = str(tmp_path / "cache")  # never the real ~/.cache
    return subprocess.run(args, cwd=tmp_path, env={**clean, **env}, capture_output=True,
                          text=True, timeout=120)


def test_help_lists_the_commands(dreamgen: Path, tmp_path: Path) -> None:
    done = _run([str(dreamgen), "--help"], tmp_path)
    assert done.returncode == 0, done.stderr
    for command in ("engines", "serve", "stylize", "weights"):
        assert f"  {command} " in done.stdout


def test_help_does_not_import_torch(tmp_path: Path) -> None:
    code = "import sys, app.cli; print(sorted({'torch', 'uvicorn'} & set(sys.modules)))"
    done = _run([sys.executable, "-c", code], tmp_path, PYTHONPATH=str(REPO_ROOT))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_weights_status_reads_the_environment(dreamgen: Path, tmp_path: Path) -> None:
    done = _run([str(dreamgen), "weights", "status"], tmp_path,
                DREAMGEN_WEIGHTS_DIR=str(shared_dir("weights")))
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[2:]}
    assert rows["microast/modulator_iter_160000.pth.tar"][2] == "verified"
    assert rows["adain/decoder.pth"][2] == "missing"
    assert not (tmp_path / "cache").exists()  # status never writes


def test_stylize_bad_input_exits_2_without_traceback(dreamgen: Path, tmp_path: Path) -> None:
    done = _run([str(dreamgen), "stylize", "missing.jpg", "style.jpg", "-o", "out.png"],
                tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "Error: content 'missing.jpg' does not exist"
