"""`dreamgen weights ...` and `dreamgen engines` through click's test runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main
from app.cli.base import weight_store
from app.engine.weights.store import bundled_dir
from tests.weights.support import FileServer, leftovers, set_env, shared_dir

MIRROR_ENV = "DREAMGEN_WEIGHTS_MIRROR"


def _row(output: str, name: str) -> list[str]:
    [line] = [line for line in output.splitlines() if line.startswith(name + " ")]
    return line.split()


def test_status_shows_verified_missing_and_corrupt(cache: Path, runner: CliRunner,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, "DREAMGEN_WEIGHTS_DIR", str(shared_dir("weights")))
    (cache / "adain").mkdir(parents=True)
    (cache / "adain" / "decoder.pth").write_bytes(b"not the decoder")
    result = runner.invoke(main, ["weights", "status"])
    assert result.exit_code == 0, result.output
    assert (f"Search folders: {shared_dir('weights')} (folder), {cache} (cache), "
            f"{bundled_dir()} (bundled)") in result.output
    assert _row(result.output, "microast/decoder_iter_160000.pth.tar") == [
        "microast/decoder_iter_160000.pth.tar", "microast", "verified",
        str(shared_dir("weights") / "microast/decoder_iter_160000.pth.tar")]
    assert _row(result.output, "adain/vgg_normalised.pth")[1:] == [
        "adain,gatys,deepdream", "missing", "-"]
    assert _row(result.output, "adain/decoder.pth")[2:] == [
        "corrupt", str(cache / "adain/decoder.pth")]
    assert _row(result.output, "cd16x_wct/5SE.pth")[1:3] == ["gatys-lite,deepdream",
                                                             "verified"]


def test_download_files_through_a_mirror_then_skip(cache: Path, runner: CliRunner,
                                                   server: FileServer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    server.serve_folder(shared_dir("weights"))
    set_env(monkeypatch, MIRROR_ENV, server.url)
    # an installation whose package lacks the bundled copies fetches them like any other
    monkeypatch.setattr("app.engine.weights.store.bundled_dir", lambda: cache.parent / "none")
    names = ["microast/modulator_iter_160000.pth.tar", "microast/decoder_iter_160000.pth.tar"]
    result = runner.invoke(main, ["weights", "download", *names])
    assert result.exit_code == 0, result.output
    wanted = [cache / n for n in names]
    assert leftovers(cache) == sorted(wanted)
    assert all(f"downloaded {p}" in result.output for p in wanted)
    again = runner.invoke(main, ["weights", "download", *names])
    assert again.exit_code == 0 and again.output.count("already verified") == 2
    assert len(server.requests) == 2


def test_download_of_a_bundled_engine_fetches_nothing(cache: Path, runner: CliRunner,
                                                      server: FileServer,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, MIRROR_ENV, server.url)
    result = runner.invoke(main, ["weights", "download", "gatys-lite"])
    assert result.exit_code == 0, result.output
    assert f"cd16x_wct/5SE.pth: already verified at {bundled_dir()}" in result.output
    assert server.requests == [] and leftovers(cache) == []


def test_download_all_by_default_goes_on_after_a_failure(
        cache: Path, runner: CliRunner, server: FileServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server.serve_folder(shared_dir("weights"))  # no AdaIN or GoogLeNet files: those 404
    set_env(monkeypatch, MIRROR_ENV, server.url)
    result = runner.invoke(main, ["weights", "download"])
    assert result.exit_code == 2
    errors = result.stderr.strip().splitlines()
    assert [line.split(" from ")[0] for line in errors if line.startswith("failed:")] == [
        "failed: Downloading adain/vgg_normalised.pth", "failed: Downloading adain/decoder.pth",
        "failed: Downloading googlenet/googlenet-1378be20.pth"]
    assert "HTTP 404" in result.stderr and "Traceback" not in result.output
    # The five bundled files are verified already: 8 - 5 = 3 tried, none obtainable here.
    assert errors[-1] == "Error: 3 of 3 downloads failed (see above)"
    assert leftovers(cache) == []


def test_download_refuses_offline_and_unknown_targets(cache: Path, runner: CliRunner,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    unknown = runner.invoke(main, ["weights", "download", "vgg19"])
    assert unknown.exit_code == 2 and "'vgg19' is neither an engine" in unknown.stderr
    set_env(monkeypatch, "DREAMGEN_OFFLINE", "true")
    offline = runner.invoke(main, ["weights", "download", "adain"])
    assert offline.exit_code == 2
    assert len(offline.stderr.strip().splitlines()) == 1
    assert "Offline mode is on" in offline.stderr


def test_import_reports_counts(cache: Path, runner: CliRunner) -> None:
    result = runner.invoke(main, ["weights", "import", str(shared_dir("weights"))])
    assert result.exit_code == 0, result.output
    assert "5 imported, 0 already present, 13 skipped" in result.output
    again = runner.invoke(main, ["weights", "import", str(shared_dir("weights") / "microast")])
    assert "0 imported, 4 already present, 1 skipped" in again.output
    states = {s.file.name: s for s in weight_store().report()}
    assert states["cd16x_wct/5SE.pth"].source == "cache"   # the cache wins over the bundled


def test_engines_lists_ready_engines_and_fixes(cache: Path, runner: CliRunner,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, "DREAMGEN_WEIGHTS_DIR", str(shared_dir("weights")))
    result = runner.invoke(main, ["engines"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert set(lines) == {"adain", "microast", "gatys", "gatys-lite", "deepdream"}
    assert " ready " in lines["microast"] and "weights verified (" in lines["microast"]
    assert "Fast" in lines["microast"] and "Style transfer" in lines["microast"]
    assert "not ready" in lines["adain"]
    assert lines["adain"].endswith("-> run: dreamgen weights download adain")


def test_serve_runs_uvicorn_with_the_guarded_protocol(cache: Path, runner: CliRunner,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    import uvicorn

    from app.web.server import GuardedH11Protocol

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append((args, kwargs)))
    set_env(monkeypatch, "DREAMGEN_HOST", "0.0.0.0")
    set_env(monkeypatch, "DREAMGEN_DATA_DIR", str(tmp_path / "data"))
    result = runner.invoke(main, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    [(args, kwargs)] = calls
    assert args == ("app.web.main:create_app",)
    assert (kwargs["factory"], kwargs["host"], kwargs["port"], kwargs["reload"]) == (
        True, "0.0.0.0", 8123, False)
    assert kwargs["http"] is GuardedH11Protocol and kwargs["proxy_headers"] is False
    assert kwargs["timeout_graceful_shutdown"] <= 5
