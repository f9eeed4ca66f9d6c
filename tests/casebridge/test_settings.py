from pathlib import Path

import pytest

from casebridge.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in list(__import__("os").environ):
        if name.startswith("CASEBRIDGE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CASEBRIDGE_CONFIG", str(tmp_path / "absent.toml"))


def test_defaults_put_sqlite_in_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("CASEBRIDGE_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'casebridge.sqlite3'}"
    assert settings.timezone == "Europe/London"


def test_environment_beats_config_file_which_beats_defaults(monkeypatch, tmp_path):
    config = tmp_path / "casebridge.toml"
    config.write_text('timezone = "Europe/Dublin"\nlog_level = "debug"\n')
    monkeypatch.setenv("CASEBRIDGE_CONFIG", str(config))
    monkeypatch.setenv("CASEBRIDGE_LOG_LEVEL", "warning")
    settings = load_settings()
    assert settings.timezone == "Europe/Dublin"
    assert settings.log_level == "WARNING"


def test_bad_values_are_named_in_plain_words(monkeypatch):
    monkeypatch.setenv("CASEBRIDGE_DATABASE_URL", "mysql://somewhere/db")
    monkeypatch.setenv("CASEBRIDGE_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    text = str(caught.value)
    assert "CASEBRIDGE_DATABASE_URL" in text
    assert "not supported" in text
    assert "CASEBRIDGE_TIMEZONE" in text
    assert "Mars/Olympus" in text


def test_misspelt_variable_is_refused_with_a_suggestion(monkeypatch):
    monkeypatch.setenv("CASEBRIDGE_DATABSE_URL", "postgresql://x/y")
    with pytest.raises(SettingsError, match="did you mean CASEBRIDGE_DATABASE_URL"):
        load_settings()


def test_unknown_key_in_config_file_is_refused(monkeypatch, tmp_path):
    config = tmp_path / "casebridge.toml"
    config.write_text('databse_url = "sqlite://"\n')
    monkeypatch.setenv("CASEBRIDGE_CONFIG", str(config))
    with pytest.raises(SettingsError, match="not a Casebridge setting"):
        load_settings()


def test_generated_secret_key_is_kept_private_and_stable(monkeypatch, tmp_path):
    monkeypatch.setenv("CASEBRIDGE_DATA_DIR", str(tmp_path))
    first = load_settings().effective_secret_key()
    assert first == load_settings().effective_secret_key()
    assert len(first) >= 40
    assert (Path(tmp_path) / "secret_key").stat().st_mode & 0o077 == 0


def test_describe_hides_the_database_password(monkeypatch):
    monkeypatch.setenv("CASEBRIDGE_DATABASE_URL", "postgresql://cb:hunter2@db/cb")
    assert "hunter2" not in str(load_settings().describe())
