"""One typed settings object: defaults, then a TOML config file, then CASEBRIDGE_* variables.

Validated once at start-up so a typo in a database URL fails with a message naming the
setting, not with a stack trace from the first request.
"""

from __future__ import annotations

import difflib
import os
import secrets
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

APP_NAME = "casebridge"
SUPPORTED_DIALECTS = ("sqlite", "postgresql")
SMTP_DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_config_file() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "casebridge.toml"


def config_file_path() -> Path:
    """CASEBRIDGE_CONFIG names the file; otherwise the user's config directory is tried."""
    return Path(os.environ.get("CASEBRIDGE_CONFIG") or default_config_file())


class SettingsError(Exception):
    """Settings that cannot work, with one plain line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("Casebridge cannot start:\n" + "\n".join(f"  - {p}" for p in problems))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CASEBRIDGE_", extra="forbid", validate_default=True
    )

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the embedded database, stored documents and the generated secret live.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL. Empty means a SQLite file in data_dir.",
    )
    secret_key: str = Field(
        default="",
        description="Signs sessions. Empty means one generated and kept in data_dir.",
        repr=False,
    )
    timezone: str = Field(default="Europe/London", description="Partnership's local time zone.")
    log_level: str = Field(default="INFO")
    sql_echo: bool = Field(default=False, description="Log every SQL statement (development).")
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60,
                                      description="Sign out after this long without a request.")
    session_max_hours: int = Field(default=12, ge=1, le=24 * 7,
                                   description="Sign out this long after signing in, always.")
    sign_in_attempts: int = Field(default=5, ge=1, le=50,
                                  description="Failed passwords in a row before a lockout.")
    lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    two_factor_required_roles: list[str] = Field(
        default=["panel_member", "manager", "partnership_admin", "auditor"],
        description="Roles that can see restricted data: a user holding any of them must set "
                    "up two-factor sign-in (an authenticator app) before using Casebridge.")
    rate_limit_storage_uri: str = Field(
        default="memory://",
        description="Where sign-in and password reset attempts are counted. memory:// counts "
                    "per process: with gunicorn and several workers use a shared store, e.g. "
                    "redis://localhost:6379/0 (needs the redis package).")
    rate_limit_per_ip: str = Field(
        default="30 per 10 minutes",
        description="Sign-in, code and password reset requests allowed from one address.")
    rate_limit_per_account: str = Field(
        default="10 per 10 minutes",
        description="Sign-in, code and password reset requests allowed for one account.")
    password_reset_minutes: int = Field(default=30, ge=5, le=24 * 60,
                                        description="How long a password reset link works.")
    upload_max_mb: int = Field(default=25, ge=1, le=1024,
                               description="The largest document that may be uploaded, in MB.")
    secure_cookies: bool = Field(default=False,
                                 description="Send cookies over HTTPS only (set behind TLS).")
    public_url: str = Field(default="",
                            description="Where people reach Casebridge, for links in e-mails. "
                                        "Empty: e-mails say to sign in, without a link.")
    # Outgoing e-mail (the engine sends it; a request never does).
    smtp_host: str = Field(default="localhost", description="SMTP relay host.")
    smtp_port: int | None = Field(default=None, ge=1, le=65535,
                                  description="Empty: 25, or 587 with starttls, 465 with ssl.")
    smtp_tls: Literal["none", "starttls", "ssl"] = Field(
        default="none", description="none (a relay on this machine), starttls or ssl.")
    smtp_username: str = Field(default="", description="Empty: do not log in.")
    smtp_password: str = Field(default="", repr=False)
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, le=600,
                                        description="Give up on a silent relay after this long.")
    mail_from: str = Field(default="Casebridge <casebridge@localhost>",
                           description="The From address of every e-mail.")
    # The engine (automated work): where it runs, how often, how long a claim holds.
    engine_mode: Literal["embedded", "external", "off"] = Field(
        default="embedded",
        description="embedded: `casebridge serve` runs the flows on a schedule (one process "
                    "per database); external: `casebridge worker` processes and a Prefect "
                    "server do; off: nothing runs them (`casebridge engine dispatch` by hand).")
    engine_dispatch_interval_seconds: float = Field(
        default=30, ge=1, le=24 * 3600, description="How often queued e-mails are sent.")
    engine_sweep_interval_seconds: float = Field(
        default=300, ge=1, le=24 * 3600, description="How often deadlines are swept.")
    engine_review_interval_seconds: float = Field(
        default=3600, ge=1, le=7 * 24 * 3600, description="How often due reviews are opened.")
    # Cron (minute hour day month day-of-week, in `timezone`) wins over the interval; empty:
    # the interval. Cron cannot run more often than once a minute, so dispatch has none.
    engine_dispatch_cron: str = Field(
        default="", description="When queued e-mails are sent, as cron (empty: the interval).")
    engine_sweep_cron: str = Field(
        default="*/5 * * * *", description="When deadlines are swept, as cron (empty: the "
                                           "interval).")
    engine_review_cron: str = Field(
        default="7 * * * *", description="When due reviews are opened, as cron (empty: the "
                                         "interval); off the sweep's minutes.")
    engine_batch_size: int = Field(default=100, ge=1, le=10_000,
                                   description="Outbox rows claimed at a time.")
    engine_lease_seconds: int = Field(
        default=300, ge=10, le=24 * 3600,
        description="A claimed effect whose worker died is taken again after this long.")
    engine_retry_base_seconds: float = Field(
        default=30, ge=0.1, le=24 * 3600,
        description="First back-off after a failed attempt; it doubles each attempt.")
    detectors_file: str = Field(
        default="", description="A YAML file changing the detectors' thresholds (repeat "
                                "victim, Case Review, MARAC); empty: the shipped defaults.")
    engine_detect_interval_seconds: float = Field(
        default=3600, ge=1, le=7 * 24 * 3600,
        description="How often the detectors sweep every subject.")
    engine_detect_cron: str = Field(
        default="23 * * * *", description="When the detectors sweep, as cron (empty: the "
                                          "interval); off the other flows' minutes.")
    engine_retention_interval_seconds: float = Field(
        default=24 * 3600, ge=60, le=31 * 24 * 3600,
        description="How often the retention sweep lists closed cases due for review.")
    engine_retention_cron: str = Field(
        default="41 2 * * *", description="When the retention sweep runs, as cron (empty: the "
                                          "interval); once a night by default.")
    retention_file: str = Field(
        default="", description="A YAML file of retention schedules per case type; empty: the "
                                "shipped defaults (rules/retention/default.yaml).")
    engine_webhook_timeout_seconds: float = Field(
        default=10, gt=0, le=120,
        description="Give up on a partner's webhook that does not answer after this long.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file_path())
        return (init_settings, env_settings, toml)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value:
            return value
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"not a database URL ({exc})") from None
        if url.get_backend_name() not in SUPPORTED_DIALECTS:
            raise ValueError(
                f"database {url.get_backend_name()!r} is not supported; "
                f"use one of {', '.join(SUPPORTED_DIALECTS)}"
            )
        return value

    @field_validator("two_factor_required_roles")
    @classmethod
    def _known_roles(cls, value: list[str]) -> list[str]:
        from storage.accounts.models import Role

        unknown = sorted(set(value) - {role.value for role in Role})
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not a role; roles are "
                             + ", ".join(role.value for role in Role))
        return value

    @field_validator("rate_limit_per_ip", "rate_limit_per_account")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit like '10 per 10 minutes'") from None
        return value

    @field_validator("public_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("mail_from")
    @classmethod
    def _mail_address(cls, value: str) -> str:
        _, address = parseaddr(value)
        if "@" not in address or address.startswith("@") or address.endswith("@"):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value

    @field_validator("smtp_username")
    @classmethod
    def _no_password_in_the_clear(cls, value: str, info: ValidationInfo) -> str:
        """A password sent to a remote relay without TLS can be read by anyone on the path."""
        host, tls = info.data.get("smtp_host", ""), info.data.get("smtp_tls")
        if value and tls == "none" and host.lower() not in LOOPBACK_HOSTS:
            raise ValueError(
                "a login needs smtp_tls starttls or ssl for a relay that is not on this machine"
            )
        return value

    @field_validator("detectors_file")
    @classmethod
    def _detectors(cls, value: str) -> str:
        """A detectors file with a mistake stops start-up, with every problem and its line."""
        if value:
            from rules.detectors.config import DetectorConfigError, load

            try:
                load(value)
            except DetectorConfigError as exc:
                raise ValueError("; ".join(str(p) for p in exc.problems)) from None
        return value

    @field_validator("retention_file")
    @classmethod
    def _retention(cls, value: str) -> str:
        """A retention schedule with a mistake stops start-up, naming every problem."""
        if value:
            from rules.retention import ScheduleError, load

            try:
                load(value)
            except (ScheduleError, OSError) as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("engine_dispatch_cron", "engine_sweep_cron", "engine_review_cron",
                     "engine_detect_cron", "engine_retention_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        """Checked here, so a typo stops `serve` and `worker` at start, not the schedule."""
        from apscheduler.triggers.cron import CronTrigger

        expression = " ".join(value.split())
        if not expression:
            return ""
        if len(expression.split()) != 5:
            raise ValueError("a cron expression has five fields: minute hour day-of-month "
                             f"month day-of-week (got {expression!r})")
        try:
            CronTrigger.from_crontab(expression)
        except ValueError as exc:
            raise ValueError(f"{expression!r} is not a cron expression: {exc}") from None
        return expression

    @property
    def effective_smtp_port(self) -> int:
        return self.smtp_port or SMTP_DEFAULT_PORTS[self.smtp_tls]

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return level

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'casebridge.sqlite3'}"

    @property
    def upload_max_bytes(self) -> int:
        return self.upload_max_mb * 1024 * 1024

    @property
    def documents_dir(self) -> Path:
        return self.data_dir / "documents"

    def effective_secret_key(self) -> str:
        """The configured key, or one generated on first run and kept beside the database."""
        if self.secret_key:
            return self.secret_key
        key_file = self.data_dir / "secret_key"
        if key_file.exists():
            return key_file.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key

    def describe(self) -> dict[str, Any]:
        """What is in force, with secrets and database passwords hidden."""
        url = make_url(self.effective_database_url)
        return {
            "config_file": str(config_file_path()),
            "config_file_found": config_file_path().exists(),
            "data_dir": str(self.data_dir),
            "database_url": url.render_as_string(hide_password=True),
            "secret_key": "(set)" if self.secret_key else "(generated in data_dir)",
            "timezone": self.timezone,
            "log_level": self.log_level,
            "sql_echo": self.sql_echo,
            "session_idle_minutes": self.session_idle_minutes,
            "session_max_hours": self.session_max_hours,
            "sign_in_attempts": self.sign_in_attempts,
            "lockout_minutes": self.lockout_minutes,
            "two_factor_required_roles": self.two_factor_required_roles,
            "rate_limit_storage_uri": make_url_safe(self.rate_limit_storage_uri),
            "rate_limit_per_ip": self.rate_limit_per_ip,
            "rate_limit_per_account": self.rate_limit_per_account,
            "password_reset_minutes": self.password_reset_minutes,
            "secure_cookies": self.secure_cookies,
            "upload_max_mb": self.upload_max_mb,
            "public_url": self.public_url,
            "smtp_host": self.smtp_host,
            "smtp_port": self.effective_smtp_port,
            "smtp_tls": self.smtp_tls,
            "smtp_username": self.smtp_username,
            "smtp_password": "(set)" if self.smtp_password else "",
            "smtp_timeout_seconds": self.smtp_timeout_seconds,
            "mail_from": self.mail_from,
            "detectors_file": self.detectors_file,
            "retention_file": self.retention_file,
            **{name: getattr(self, name) for name in type(self).model_fields
               if name.startswith("engine_")},
        }


def make_url_safe(uri: str) -> str:
    """A storage URI with any password hidden (redis://:secret@host)."""
    scheme, sep, rest = uri.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    return f"{scheme}{sep}{rest}"


# Variables with our prefix that are not settings but are read elsewhere.
NON_SETTING_VARIABLES = {"CASEBRIDGE_CONFIG", "CASEBRIDGE_TEST_DATABASE_URL"}


def load_settings(**overrides: Any) -> Settings:
    """Build and validate settings, turning pydantic's errors into plain sentences."""
    problems = _unknown_variables()
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "is not a Casebridge setting"
            problems.append(f"{field} (CASEBRIDGE_{field.upper()}): {message}")
        raise SettingsError(problems) from None
    if problems:
        raise SettingsError(problems)
    return settings


def _unknown_variables() -> list[str]:
    """A misspelt CASEBRIDGE_DATABSE_URL must not quietly fall back to the SQLite default."""
    known = {f"CASEBRIDGE_{name.upper()}" for name in Settings.model_fields}
    problems = []
    for name in sorted(os.environ):
        if name.startswith("CASEBRIDGE_") and name not in known | NON_SETTING_VARIABLES:
            guess = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean {guess[0]}?" if guess else ""
            problems.append(f"{name} is not a Casebridge setting{hint}")
    return problems


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
