"""The settings object: derived defaults, environment overrides, and every knob documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import Settings

SETTINGS_DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


def test_defaults_put_database_and_media_under_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.media_dir == tmp_path / "media"
    assert settings.database_url == f"sqlite:///{(tmp_path / 'dreamgen.db').as_posix()}"


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("DREAMGEN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DREAMGEN_DATABASE_URL", "postgresql+psycopg://db/dreamgen")
    monkeypatch.setenv("DREAMGEN_MAX_IMAGE_MEGAPIXELS", "12.5")
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert settings.database_url == "postgresql+psycopg://db/dreamgen"
    assert settings.max_image_megapixels == 12.5


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    assert f"`DREAMGEN_{name.upper()}`" in SETTINGS_DOC.read_text(), \
        f"docs/settings.md's table lacks DREAMGEN_{name.upper()}"
