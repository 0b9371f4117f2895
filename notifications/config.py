"""Delivery channels from the operator's channels.yaml, never from a campaign spec.

A campaign spec is shared, versioned and shown in reports; SMTP passwords and robot tokens belong to
the installation. Secrets stay out of the file too: `${VAR}` is replaced from the environment.

    channels:
      - {name: mail, type: email, host: smtp.example.cn, port: 465, security: ssl,
         username: robot@example.cn, password: "${SMTP_PASSWORD}", sender: "县教育局 <robot@example.cn>"}
      - {name: county-group, type: dingtalk, url: "https://oapi.dingtalk.com/robot/send?access_token=${DINGTALK_TOKEN}",
         secret: "${DINGTALK_SECRET}", units: all}
      - {name: ops, type: webhook, url: "https://hooks.example.cn/campaignflow", secret: "${WEBHOOK_SECRET}"}
"""

from __future__ import annotations

import re
import ssl
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from campaign_model.errors import InvalidInput

from .channels.base import Channel
from .channels.email import EmailChannel
from .channels.robots import DingTalkRobot, FeishuRobot, WeComRobot
from .channels.webhook import WebhookChannel, redact_url

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ChannelConfig(BaseModel, ABC):
    model_config = ConfigDict(extra="forbid", frozen=True)
    secret_fields: ClassVar[tuple[str, ...]] = ("password", "secret")

    name: str = Field(min_length=1)
    type: str
    timeout: float = Field(10.0, gt=0)

    @abstractmethod
    def build(self) -> Channel:
        """The channel these settings describe (each channel type's config makes its own)."""

    def safe_dict(self) -> dict[str, Any]:
        """For display: secrets as "***", URLs without their query (tokens) or token-like path parts."""
        shown = self.model_dump(mode="json")
        for key in self.secret_fields:
            if shown.get(key):
                shown[key] = "***"
        if "url" in shown:
            query = urlsplit(self.url).query  # type: ignore[attr-defined]
            shown["url"] = redact_url(self.url) + ("?***" if query else "")  # type: ignore[attr-defined]
        return shown

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.safe_dict()!r})"

    __str__ = __repr__


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


class EmailConfig(ChannelConfig):
    type: Literal["email"]
    host: str = Field(min_length=1)
    port: int | None = Field(None, gt=0, lt=65536)
    security: Literal["ssl", "starttls", "none"]
    username: str | None = None
    password: SecretStr | None = None
    sender: str | None = None
    verify: bool = True  # False only for a test or intranet relay with a self-signed certificate
    ca_file: Path | None = None  # the intranet CA, the better answer to a self-signed relay

    def build(self) -> Channel:
        context = ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file else None
        port = self.port or {"ssl": 465, "starttls": 587, "none": 25}[self.security]
        return EmailChannel(self.name, self.host, port, self.security, self.username, _secret(self.password),
                            sender=self.sender or self.username or "", timeout=self.timeout,
                            ssl_context=context, verify=self.verify)

    @field_validator("username", "password")
    @classmethod
    def _ascii(cls, value: Any) -> Any:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if text is not None and not text.isascii():
            raise ValueError("只能含 ASCII 字符 (must be ASCII: smtplib sends credentials as ASCII)")
        return value

    @field_validator("sender")
    @classmethod
    def _has_address(cls, value: str | None) -> str | None:
        if value is not None and "@" not in value:
            raise ValueError("发件人须含邮箱地址 (sender must contain an email address)")
        return value


class _HttpConfig(ChannelConfig):
    url: str
    units: Literal["all"] | list[str] = "all"

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname:
            raise ValueError("须是 http(s):// 开头的完整网址 (must be a full http(s):// URL)")
        return value

    def _common(self) -> dict[str, Any]:
        return {"units": None if self.units == "all" else self.units, "timeout": self.timeout}


class DingTalkConfig(_HttpConfig):
    type: Literal["dingtalk"]
    secret: SecretStr | None = None

    def build(self) -> Channel:
        return DingTalkRobot(self.name, self.url, _secret(self.secret), **self._common())


class WeComConfig(_HttpConfig):
    type: Literal["wecom"]

    def build(self) -> Channel:
        return WeComRobot(self.name, self.url, **self._common())


class FeishuConfig(_HttpConfig):
    type: Literal["feishu"]
    secret: SecretStr | None = None

    def build(self) -> Channel:
        return FeishuRobot(self.name, self.url, _secret(self.secret), **self._common())


class WebhookConfig(_HttpConfig):
    type: Literal["webhook"]
    secret: SecretStr = Field(min_length=1)

    def build(self) -> Channel:
        return WebhookChannel(self.name, self.url, _secret(self.secret) or "", **self._common())


KINDS: dict[str, type[ChannelConfig]] = {"email": EmailConfig, "dingtalk": DingTalkConfig, "wecom": WeComConfig,
                                         "feishu": FeishuConfig, "webhook": WebhookConfig}


def channels_file(env: Mapping[str, str]) -> Path | None:
    """$CAMPAIGN_CHANNELS (which must exist), else channels.yaml in the data directory when present."""
    if env.get("CAMPAIGN_CHANNELS"):
        return Path(env["CAMPAIGN_CHANNELS"]).expanduser()
    home = Path(env.get("CAMPAIGN_HOME") or Path.home() / ".campaignflow").expanduser()
    candidate = home / "channels.yaml"
    return candidate if candidate.is_file() else None


def load_channels(path: Path | None, env: Mapping[str, str]) -> list[ChannelConfig]:
    path = path or channels_file(env)
    if path is None:
        return []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise InvalidInput(f"无法读取通道配置 '{path}' (cannot read channel settings: {exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"通道配置 '{path}' 不是有效的 YAML (not valid YAML: {exc})") from None
    if not isinstance(data, dict) or set(data) - {"channels"} or not isinstance(data.get("channels", []), list):
        raise InvalidInput(f"{path}: 顶层须只有 channels 列表 (the file must hold a 'channels' list only)")
    configs: list[ChannelConfig] = []
    problems: list[str] = []
    for index, item in enumerate(data.get("channels") or []):
        where = f"{path}: channels[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: 须是键值映射 (must be a mapping)")
            continue
        where += f" ({item['name']})" if isinstance(item.get("name"), str) else ""
        kind = KINDS.get(str(item.get("type")))
        if kind is None:
            problems.append(f"{where}: type: 未知的通道类型 {item.get('type')!r}，可选 {'、'.join(KINDS)} "
                            f"(unknown channel type; one of {', '.join(KINDS)})")
            continue
        try:
            configs.append(kind.model_validate(_substitute(item, env, where)))
        except ValidationError as exc:
            problems.extend(dict.fromkeys(f"{where}: {_field_problem(e)}" for e in exc.errors()))
    seen: set[str] = set()
    for config in configs:
        if config.name in seen:
            problems.append(f"{path}: 通道名称 '{config.name}' 重复 (duplicate channel name)")
        seen.add(config.name)
    if problems:
        raise InvalidInput("\n".join(problems))
    return configs


def build_channels(configs: list[ChannelConfig]) -> list[Channel]:
    return [config.build() for config in configs]


def _substitute(value: Any, env: Mapping[str, str], where: str) -> Any:
    # after parsing, not before: a secret with ':' or '#' must not change the YAML's structure
    if isinstance(value, str):
        def lookup(match: re.Match[str]) -> str:
            if match[1] not in env:
                raise InvalidInput(f"{where}: 环境变量 {match[1]} 未设置 "
                                   f"(environment variable {match[1]} is not set)")
            return env[match[1]]
        return _VAR.sub(lookup, value)
    if isinstance(value, list):
        return [_substitute(v, env, where) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, env, where) for k, v in value.items()}
    return value


def _field_problem(error: Any) -> str:
    field = ".".join(str(p) for p in error["loc"]) or "(channel)"
    kind = error["type"]
    if error["loc"][:1] == ("units",):  # one message, not one per branch of the union
        return "units: 须为 all 或单位代码列表 (must be 'all' or a list of unit keys)"
    if kind == "value_error":  # our own validators already speak both languages
        return f"{field}: {error['ctx']['error']}"
    if kind == "missing":
        return f"{field}: 缺少必填字段 (required field missing)"
    if kind == "extra_forbidden":
        return f"{field}: 未知字段 (unknown field)"
    if kind == "literal_error":
        return f"{field}: 取值无效 {error['input']!r} ({error['msg']})"
    if field in ("password", "secret"):
        return f"{field}: 取值无效，请用引号写成字符串 ({error['msg']}; quote it as a string)"
    return f"{field}: 取值无效 ({error['msg']})"
