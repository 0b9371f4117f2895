"""The settings of sending, declared once: where the channels are configured, how often to retry, where
reminders link to.

`NotificationSettings` reads them from the environment (CAMPAIGN_HOME, CAMPAIGN_CHANNELS,
CAMPAIGN_DELIVERY_MAX_ATTEMPTS, CAMPAIGN_DELIVERY_BACKOFF_SECONDS, CAMPAIGN_PUBLIC_URL); the
application's settings (campaign_app.settings.Settings) extend it, so each variable is declared here
and nowhere else. Below the edge, code takes the plain `DeliveryConfig` instead: it crosses into a
Prefect flow run as a parameter and holds no secret (channel secrets stay in the environment, read
when the channels are built: notifications.config).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from campaign_model.errors import InvalidInput

ENV_PREFIX = "CAMPAIGN_"


def default_home() -> Path:
    return Path.home() / ".campaignflow"


@dataclass(frozen=True)
class DeliveryConfig:
    """What sending needs: the channels file (None: only the outbox file), the retry policy, the public URL."""

    channels_file: str | None = None
    max_attempts: int = 5
    backoff_seconds: int = 300  # doubled at each attempt
    public_url: str | None = None


class NotificationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True, extra="ignore")

    # the data directory: the database, stored files, the outbox, Prefect's home, channels.yaml by default
    home: Path = Field(default_factory=default_home)
    # the operator's channels.yaml; when unset, channels.yaml in the data directory if there is one
    channels: Path | None = None
    delivery_max_attempts: int = Field(5, ge=1, le=100)
    delivery_backoff_seconds: int = Field(300, ge=0, le=7 * 24 * 3600)
    # where reminders link to (the dashboard as users reach it); without it a digest says where in words
    public_url: str | None = None

    @field_validator("home")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("channels")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        # a link in every reminder: a full http(s) address, never a script or a credential
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
            raise ValueError("须是 http(s):// 开头、不含用户名密码的完整网址 (must be a full http(s):// URL without credentials)")
        return value.strip()

    @property
    def channels_file(self) -> Path | None:
        if self.channels is not None:
            return self.channels
        candidate = self.home / "channels.yaml"
        return candidate if candidate.is_file() else None

    @property
    def delivery(self) -> DeliveryConfig:
        channels = self.channels_file
        return DeliveryConfig(str(channels) if channels else None, self.delivery_max_attempts,
                              self.delivery_backoff_seconds, self.public_url)

    @classmethod
    def from_env(cls, **values: Any) -> Self:
        """The settings from the environment (and `values`), or InvalidInput naming each variable at fault."""
        try:
            return cls(**values)
        except ValidationError as exc:
            raise InvalidInput("环境变量设置有误 (invalid settings in the environment):\n" + "\n".join(
                _problem(e) for e in exc.errors())) from None


def _problem(error: Any) -> str:
    name = "_".join(str(p) for p in error["loc"]).upper()
    # the value is shown for a named setting only, never the database URL's (it may carry a password)
    shown = f" (got {error.get('input')!r})" if name and name != "DB_URL" else ""
    return f"  {ENV_PREFIX}{name}: {error['msg']}{shown}" if name else f"  {error['msg']}"


def delivery_from_environment() -> DeliveryConfig:
    """For an edge that has nothing but the environment (a Prefect worker, a benchmark): the delivery settings."""
    return NotificationSettings.from_env().delivery
