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


def test_smtp_port_follows_the_tls_mode_unless_given(monkeypatch):
    assert load_settings().effective_smtp_port == 25
    monkeypatch.setenv("CASEBRIDGE_SMTP_TLS", "starttls")
    assert load_settings().effective_smtp_port == 587
    monkeypatch.setenv("CASEBRIDGE_SMTP_TLS", "ssl")
    assert load_settings().effective_smtp_port == 465
    monkeypatch.setenv("CASEBRIDGE_SMTP_PORT", "2525")
    assert load_settings().effective_smtp_port == 2525


def test_a_login_to_a_remote_relay_needs_tls(monkeypatch):
    monkeypatch.setenv("CASEBRIDGE_SMTP_HOST", "relay.example.org")
    monkeypatch.setenv("CASEBRIDGE_SMTP_USERNAME", "casebridge")
    with pytest.raises(SettingsError, match=r"CASEBRIDGE_SMTP_USERNAME.*starttls or ssl"):
        load_settings()
    monkeypatch.setenv("CASEBRIDGE_SMTP_TLS", "starttls")
    assert load_settings().smtp_username == "casebridge"


def test_mail_settings_are_checked_and_the_password_hidden(monkeypatch):
    monkeypatch.setenv("CASEBRIDGE_MAIL_FROM", "not an address")
    monkeypatch.setenv("CASEBRIDGE_PUBLIC_URL", "casebridge.example.org")
    monkeypatch.setenv("CASEBRIDGE_SMTP_TLS", "maybe")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    text = str(caught.value)
    for name in ("CASEBRIDGE_MAIL_FROM", "CASEBRIDGE_PUBLIC_URL", "CASEBRIDGE_SMTP_TLS"):
        assert name in text
    monkeypatch.delenv("CASEBRIDGE_MAIL_FROM")
    monkeypatch.delenv("CASEBRIDGE_SMTP_TLS")
    monkeypatch.setenv("CASEBRIDGE_PUBLIC_URL", "https://casebridge.example.org/")
    monkeypatch.setenv("CASEBRIDGE_SMTP_PASSWORD", "hunter2")
    settings = load_settings()
    assert settings.public_url == "https://casebridge.example.org"
    assert "hunter2" not in str(settings.describe())
    assert "hunter2" not in repr(settings)
