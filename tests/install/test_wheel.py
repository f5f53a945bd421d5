"""The wheel, built from the working tree and installed into a fresh venv outside the source
tree: it holds every module, template, static file, migration and bundled weight; it imports
nothing from the source tree; and ``dreamgen serve``, started elsewhere, runs a job end to end
through HTTP and stops promptly on SIGTERM. Torch and the other dependencies come from this
venv (a ``.pth`` line), not a second install."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.install.support import (
    REPO_ROOT,
    bare_env,
    free_port,
    run,
    wait_for_http,
    write_network_guard,
)
from tests.support.shared import shared_file
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
PIP = Path(sys.executable).parent / "pip"
# source folder -> where the wheel puts it (pyproject.toml's package-dir)
PACKAGE_FOLDERS = {"app": "app", "templates": "app/templates", "static": "app/static",
                   "alembic": "app/migrations"}
STOP_WITHIN_S = 15

# Run inside the new venv: where the package, its data folders and its modules come from.
WHERE_FROM = """
import json, sys
import app
from app.db.engine import alembic_config
from app.resources import package_folder
from app.settings import Settings
from app.web.main import create_app

web = create_app(Settings(data_dir=sys.argv[1]))
static = next(r.app.directory for r in web.routes if getattr(r, "name", "") == "static")
print(json.dumps({
    "package": app.__file__,
    "templates": [str(p) for p in web.state.templates.env.loader.searchpath],
    "static": [str(static), str(package_folder("static"))],
    "migrations": [alembic_config("sqlite://").get_main_option("script_location")],
    "modules": sorted(m.__file__ for name, m in sys.modules.items()
                      if name.split(".")[0] == "app" and getattr(m, "__file__", None)),
}))
"""


def copy_working_tree(target: Path) -> Path:
    """The working tree's files (tracked and untracked, not ignored) copied to ``target``, so
    the build neither reuses nor writes ``build/`` and ``*.egg-info`` in the checkout (a stale
    ``build/lib`` would put deleted modules in the wheel)."""
    listing = run(["git", "-C", REPO_ROOT, "ls-files", "-z", "--cached", "--others",
                   "--exclude-standard"])
    for name in filter(None, listing.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def expected_wheel_files(source: Path) -> set[str]:
    """Every file the wheel must hold, by its path in the wheel."""
    expected = set()
    for folder, destination in PACKAGE_FOLDERS.items():
        for path in (source / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                expected.add(f"{destination}/{path.relative_to(source / folder).as_posix()}")
    return expected


def build_wheel(source: Path, dist: Path) -> tuple[Path, str]:
    """Build the wheel the way the brief says (no isolation: setuptools from this venv);
    return it and the verbose build log."""
    log = run([PIP, "wheel", "--no-deps", "--no-build-isolation", "-v", "-w", dist, source],
              timeout_s=300)
    [wheel] = dist.glob("dreamgen-*.whl")
    return wheel, log


def make_venv(folder: Path, wheel: Path) -> Path:
    """A fresh venv with the wheel installed, then this venv's site-packages added for the
    dependencies (after the install, so pip never sees this checkout's editable dreamgen)."""
    run([sys.executable, "-m", "venv", folder], timeout_s=300)
    python = folder / "bin" / "python"
    # Without PYTHONPATH (the tests' conftest puts the checkout on it for the fault-engine
    # plugin): pip would see the checkout's dreamgen.egg-info and skip the wheel as installed.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run([python, "-m", "pip", "install", "--no-deps", "--no-index", "--no-cache-dir",
         "--force-reinstall", wheel], timeout_s=300, env=env)
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
                .strip())
    (site / "dreamgen-test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, set[str]]:
    """(the wheel, its build log, the files it must hold), the source copy deleted after, so
    nothing of it is left to fall back on."""
    root = tmp_path_factory.mktemp("wheel")
    source = copy_working_tree(root / "src")
    wheel, log = build_wheel(source, root / "dist")
    expected = expected_wheel_files(source)
    shutil.rmtree(source)
    return wheel, log, expected


@pytest.fixture(scope="module")
def installed(built: tuple[Path, str, set[str]]) -> Path:
    """The python of a fresh venv holding the wheel."""
    wheel = built[0]
    return make_venv(wheel.parent.parent / "venv", wheel)


def test_the_wheel_holds_the_package_and_builds_without_deprecations(
        built: tuple[Path, str, set[str]]) -> None:
    wheel, log, expected = built
    deprecations = [line for line in log.splitlines() if "deprecat" in line.lower()]
    assert not deprecations, "the build warns:\n" + "\n".join(deprecations)
    with zipfile.ZipFile(wheel) as archive:
        names = {n for n in archive.namelist() if not n.startswith("dreamgen-0")}
        licenses = [n for n in archive.namelist() if "/licenses/" in n]
    assert expected - names == set(), "missing from the wheel"
    assert names - expected == set(), "in the wheel but not in the working tree"
    assert {"app/engine/weights/bundled/microast/decoder_iter_160000.pth.tar",
            "app/engine/weights/bundled/cd16x_wct/5SE.pth", "app/templates/admin.html",
            "app/static/admin.js", "app/migrations/env.py"} <= names
    assert any(n.endswith("licenses/app/engine/weights/bundled/microast/LICENSE") for n in licenses)


def test_everything_comes_from_the_installed_package(installed: Path, tmp_path: Path) -> None:
    venv = installed.parent.parent
    report = json.loads(run([installed, "-c", WHERE_FROM, tmp_path / "data"], cwd=tmp_path,
                            env=bare_env(tmp_path / "home")))
    paths = [report["package"], *report["templates"], *report["static"],
             *report["migrations"], *report["modules"]]
    outside = [p for p in paths if not Path(p).resolve().is_relative_to(venv.resolve())]
    assert not outside, f"read from outside the venv: {outside}"
    assert len(report["modules"]) > 10


def submit_job(client: httpx.Client) -> dict:
    photo, style = shared_file("media/chelsea.png"), shared_file("media/brick.png")
    response = client.post("/api/jobs", data={"engine": "microast", "size": "64"},
                           files=[("content", ("photo.png", photo.read_bytes(), "image/png")),
                                  ("style", ("style.png", style.read_bytes(), "image/png"))])
    assert response.status_code == 201, response.text
    return response.json()


def wait_for_job(client: httpx.Client, job_id: str, timeout_s: float = 180.0) -> dict:
    def finished() -> dict | None:
        job = client.get(f"/api/jobs/{job_id}").json()
        return job if job["state"] in ("succeeded", "failed", "cancelled") else None

    return wait_until(f"job {job_id} to finish", finished, timeout_s, every_s=0.2)


def stop(server: subprocess.Popen) -> float:
    """SIGTERM, then the seconds it took to exit (killed and failed past the limit)."""
    started = time.monotonic()
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(STOP_WITHIN_S)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        pytest.fail(f"dreamgen serve did not exit within {STOP_WITHIN_S} s of SIGTERM")
    return time.monotonic() - started


def test_dreamgen_serve_runs_a_job_and_stops_on_sigterm(installed: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    port = free_port()
    env = bare_env(tmp_path / "home", DREAMGEN_DATA_DIR=str(tmp_path / "data"),
                   DREAMGEN_WEIGHTS_CACHE_DIR=str(tmp_path / "cache"), DREAMGEN_PORT=str(port),
                   PYTHONPATH=str(write_network_guard(tmp_path / "guard")))
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([installed.parent / "dreamgen", "serve"], cwd=elsewhere, env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + "/healthz", server)
        with httpx.Client(base_url=base, timeout=30) as client:
            job = wait_for_job(client, submit_job(client)["id"])
            assert job["state"] == "succeeded", job
            result = client.get(job["links"]["result"])
            assert result.status_code == 200
            with Image.open(io.BytesIO(result.content)) as picture:
                assert picture.format == "PNG" and max(picture.size) == 64
            static = client.get("/static/admin.js").text
            assert static == (REPO_ROOT / "static" / "admin.js").read_text()
        elapsed = stop(server)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
        print((tmp_path / "server.log").read_text())   # shown when the test fails
    # uvicorn shuts down, then re-raises the signal it caught: -SIGTERM (or 0) is a clean stop
    assert server.returncode in (0, -signal.SIGTERM), f"exit status {server.returncode}"
    assert "Application shutdown complete" in (tmp_path / "server.log").read_text()
    assert elapsed < STOP_WITHIN_S
    assert not list(elsewhere.iterdir())               # nothing written where it was started
