"""``dreamgen styles add`` seeds the library from files (each checked like an upload, bad ones
reported and skipped), and the page and ``/api/styles`` then list them; ``styles list``
prints them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from app.cli import main
from app.settings import Settings, get_settings
from app.web.main import create_app
from tests.weights.support import shared_dir


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("DREAMGEN_DATA_DIR", str(folder))
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


def test_styles_added_from_files_are_listed_for_everyone(runner: CliRunner, data_dir: Path,
                                                         tmp_path: Path) -> None:
    media = shared_dir("media")
    painting = tmp_path / "deep_field_at_night.jpg"
    painting.write_bytes((media / "hubble_deep_field.jpg").read_bytes())
    fake = tmp_path / "notes.png"
    fake.write_text("not a picture at all")
    added = runner.invoke(main, ["styles", "add", str(painting), str(media / "ihc.png"),
                                 str(fake)])
    assert added.exit_code == 2, added.output
    assert "deep_field_at_night.jpg: style 1" in added.output
    assert "ihc.png: style 2" in added.output
    assert "Error: notes.png:" in added.output and "1 of 3 files were not added" in added.output
    again = runner.invoke(main, ["styles", "add", "--title", "Tissue", str(media / "ihc.png")])
    assert again.exit_code == 0 and "ihc.png: style 2" in again.output   # the same image once

    listing = runner.invoke(main, ["styles", "list"])
    assert listing.exit_code == 0, listing.output
    assert "curated  Deep field at night" in listing.output and "Tissue" in listing.output

    settings = Settings(data_dir=data_dir, run_worker=False)
    with TestClient(create_app(settings)) as client:
        styles = client.get("/api/styles").json()
        titles = sorted(s["title"] for s in styles["styles"])
        assert titles == ["Deep field at night", "Tissue"]
        first = next(s for s in styles["styles"] if s["title"] == "Tissue")
        assert client.get(first["thumb"]).status_code == 200
        assert "Deep field at night" in client.get("/styles").text
    leftovers = [p for p in (data_dir / "media").rglob("*") if p.is_file()
                 and not p.relative_to(data_dir / "media").parts[0] == "styles"]
    assert leftovers == []            # only the library's own copies and thumbnails stay


def test_listing_a_database_nothing_has_created_says_so(runner: CliRunner,
                                                        data_dir: Path) -> None:
    """``styles list`` only reads: it does not migrate (or create) the database."""
    listing = runner.invoke(main, ["styles", "list"])
    assert listing.exit_code == 2, listing.output
    assert "cannot read the style library" in listing.output
    assert "dreamgen serve" in listing.output and "Traceback" not in listing.output
