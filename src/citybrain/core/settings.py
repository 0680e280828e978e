"""One typed settings object, read once at start-up and injected everywhere (prefix ``CITYBRAIN_``)."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "admin", "changeme", "change-me", "password", "secret", "123456", "citybrain"})
#: Background services a node can run (``CITYBRAIN_SERVICES``, ``citybrain worker --services``), in start order:
#: the bus ingestor, the roll-up worker, retention, the warning engine, the follow-up host, the MQTT bridge.
SERVICE_NAMES: tuple[str, ...] = ("ingest", "rollup", "retention", "warning", "followup", "mqtt")


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "citybrain"


class Settings(BaseSettings):
    """Every knob of a citybrain process; each is documented in README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix="CITYBRAIN_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    timezone: str = "Asia/Shanghai"
    city_code: str = "310000"
    city_name_zh: str = "上海"
    city_name_en: str = "Shanghai"
    admin_username: str = "admin"
    admin_password: SecretStr | None = None
    secret_key: SecretStr | None = None  # signs challenges, keys hashes; unset: generated in data_dir/secrets
    session_ttl_hours: float = Field(default=12.0, gt=0)
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    max_body_bytes: int = Field(default=2 * 1024 * 1024, gt=0)
    max_upload_bytes: int = Field(default=24 * 1024 * 1024, gt=0)  # multipart file uploads (photos, PDFs)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_minutes: float = Field(default=15.0, gt=0)
    db_pool_size: int = Field(default=10, ge=1)
    log_level: str = "INFO"
    mqtt_url: str | None = None
    # where the MQTT bridge's network half runs: a process of its own (default) or a thread of the app's
    mqtt_receiver: Literal["process", "thread"] = "process"
    # where the warning engine evaluates readings on the embedded default (SQLite, in-process bus): a process
    # of its own (default; its results stored under the write turn) or inline, in the readings' transaction
    warning_engine: Literal["process", "inline"] = "process"
    public_url: str | None = None  # absolute base of links sent to citizens (default http://host:port)
    smtp_url: str | None = None  # smtp://[user:pass@]host[:port] (STARTTLS), smtps:// or smtp+plain://
    smtp_from: str | None = None
    public_webhook_allow_private: bool = False  # subscriptions' webhooks may point at private addresses
    nats_url: str | None = None
    # which background services `serve` runs: comma-separated names of SERVICE_NAMES, "all" or "none"
    services: Annotated[tuple[str, ...], NoDecode] = SERVICE_NAMES

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("services", mode="before")
    @classmethod
    def _known_services(cls, value: Any) -> tuple[str, ...]:
        return parse_services(value)

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Settings:
        if self.env == "production":
            pw = self.admin_password.get_secret_value() if self.admin_password else None
            if pw is not None and (pw.lower() in PLACEHOLDER_SECRETS or len(pw) < 12):
                raise ValueError(
                    "CITYBRAIN_ADMIN_PASSWORD is a placeholder or shorter than 12 characters; "
                    "production refuses it (unset it to have a random one generated and printed once)"
                )
            key = self.secret_key.get_secret_value() if self.secret_key else None
            if key is not None and (key.lower() in PLACEHOLDER_SECRETS or len(key) < 32):
                raise ValueError("CITYBRAIN_SECRET_KEY is a placeholder or shorter than 32 characters; production "
                                 "refuses it (unset it to have one generated in the data directory)")
            if self.cookie_secure == "never":
                raise ValueError("CITYBRAIN_COOKIE_SECURE=never is refused in production")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL, defaulting to an SQLite file in the data directory."""
        if self.database_url:
            url = self.database_url
            if url.startswith("postgres://"):
                url = "postgresql://" + url[len("postgres://") :]
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            return url
        return f"sqlite:///{self.data_dir / 'citybrain.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def parse_services(value: Any) -> tuple[str, ...]:
    """Service names from ``"warning,followup"`` (or a list), in start order; ``all`` and ``none`` as words.

    >>> parse_services("followup, warning"), parse_services("all") == SERVICE_NAMES, parse_services("none")
    (('warning', 'followup'), True, ())
    """
    if isinstance(value, str) and not value.strip():
        raise ValueError("empty; name the services, or 'all' or 'none'")
    items = value.split(",") if isinstance(value, str) else list(value)
    names = {str(v).strip().lower() for v in items} - {""}
    if names == {"all"}:
        return SERVICE_NAMES
    if names == {"none"}:
        return ()
    unknown = sorted(names - set(SERVICE_NAMES))
    if unknown:
        raise ValueError(f"unknown service {', '.join(map(repr, unknown))}; known: {', '.join(SERVICE_NAMES)} "
                         "(or 'all', 'none')")
    return tuple(n for n in SERVICE_NAMES if n in names)


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment and ``.env``; raise ``SettingsError`` naming the bad key."""
    from pydantic import ValidationError

    from citybrain.core.errors import SettingsError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            key = f"CITYBRAIN_{loc.upper()}" if loc else "settings"
            problems.append(f"{key}: {err['msg']}")
        raise SettingsError("; ".join(problems)) from None
