"""`dreamgen admin token` and what `dreamgen serve` prints for the admin, through click's test
runner: no server runs (uvicorn.run is replaced where `serve` would start it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main
from tests.weights.support import set_env


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("DREAMGEN_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("DREAMGEN_PUBLIC_URL", raising=False)
    set_env(monkeypatch, "DREAMGEN_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def lines_of(output: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in output.splitlines() if ": " in line)


def test_admin_token_prints_the_token_and_a_link_that_keeps_it_out_of_logs(
        data_dir: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(main, ["admin", "token"])
    assert result.exit_code == 0, result.output
    token = (data_dir / "admin-token").read_text().strip()
    lines = lines_of(result.output)
    assert lines["Token file"] == str(data_dir / "admin-token")
    assert lines["Token"] == token and len(token) >= 40
    assert lines["Sign-in link (keep it private)"] == \
        f"http://127.0.0.1:8000/admin#token={token}"       # a fragment: never sent
    assert runner.invoke(main, ["admin", "token"]).output == result.output   # kept

    set_env(monkeypatch, "DREAMGEN_PUBLIC_URL", "https://studio.example/")
    public = lines_of(runner.invoke(main, ["admin", "token"]).output)
    assert public["Sign-in link (keep it private)"] == \
        f"https://studio.example/admin#token={token}"


def test_admin_token_new_replaces_it(data_dir: Path, runner: CliRunner) -> None:
    old = lines_of(runner.invoke(main, ["admin", "token"]).output)["Token"]
    result = runner.invoke(main, ["admin", "token", "--new"])
    assert result.exit_code == 0, result.output
    new = lines_of(result.output)["Token"]
    assert new != old and (data_dir / "admin-token").read_text().strip() == new
    assert "signed out" in result.stderr
    assert (data_dir / "admin-token").stat().st_mode & 0o777 == 0o600


def test_a_token_set_in_the_environment_wins_and_a_short_one_is_refused(
        data_dir: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, "DREAMGEN_ADMIN_TOKEN", "an-admin-token-set-by-hand")
    result = runner.invoke(main, ["admin", "token", "--port", "9000"])
    assert result.exit_code == 0, result.output
    assert "set in DREAMGEN_ADMIN_TOKEN" in result.output
    assert "http://127.0.0.1:9000/admin#token=an-admin-token-set-by-hand" in result.output
    assert not data_dir.exists()
    refused = runner.invoke(main, ["admin", "token", "--new"])
    assert refused.exit_code == 2 and "change it there" in refused.stderr

    set_env(monkeypatch, "DREAMGEN_ADMIN_TOKEN", "too-short")
    for command in (["admin", "token"], ["serve"]):
        short = runner.invoke(main, command)
        assert short.exit_code == 2, command
        assert "9 characters long; it needs at least 16" in short.stderr


def test_serve_prints_where_the_token_is_and_the_sign_in_link(
        data_dir: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    result = runner.invoke(main, ["serve", "--host", "0.0.0.0", "--port", "8123"])
    assert result.exit_code == 0, result.output
    token = (data_dir / "admin-token").read_text().strip()
    assert f"Admin token: in {data_dir / 'admin-token'}" in result.stderr
    assert f"http://localhost:8123/admin#token={token}" in result.stderr
