"""Chat-group robots: DingTalk, WeCom (企业微信) and Feishu (飞书) custom bots behind an incoming-hook URL.

Each answers HTTP 200 with an error code in the JSON body; only rate limits and "system busy" are
worth retrying, everything else (bad signature, keyword filter, IP allow-list, revoked token) needs
an administrator.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from .base import Message
from .webhook import HttpChannel


def _truncate_utf8(text: str, limit: int) -> str:
    # the robots count bytes, not characters, and refuse the whole message when it is too long
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", errors="ignore") + "…"


class _Robot(HttpChannel):
    code_field = "errcode"
    retryable_codes: frozenset[int] = frozenset()

    def _deliver(self, payload: dict[str, Any], params: dict[str, str] | None = None) -> None:
        response = self._post(self._json(payload), params=params)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        code = answer.get(self.code_field, answer.get("StatusCode")) if isinstance(answer, dict) else None
        if code is None:
            self._check_status(response)
            raise self._fail(f"应答不是预期的 JSON (unexpected answer: HTTP {response.status_code} "
                             f"{response.text[:200]})", retryable=False)
        if code != 0:
            text = answer.get("errmsg") or answer.get("msg") or answer.get("StatusMessage") or ""
            retryable = code in self.retryable_codes or response.status_code >= 500 or response.status_code == 429
            raise self._fail(f"机器人拒收 (robot refused: {self.code_field} {code} {text})", retryable=retryable)
        self._check_status(response)


class DingTalkRobot(_Robot):
    """DingTalk custom robot; with a secret ("加签"), each request is signed with the current time."""

    kind = "dingtalk"
    # 130101: sent too fast (20/min per robot); -1: system busy
    retryable_codes = frozenset({130101, -1})

    def __init__(self, name: str, url: str, secret: str | None = None, **kwargs: Any):
        super().__init__(name, url, secret=secret, **kwargs)

    def sign(self, timestamp_ms: int) -> str:
        assert self._secret is not None
        mac = hmac.new(self._secret.encode(), f"{timestamp_ms}\n{self._secret}".encode(), hashlib.sha256)
        return base64.b64encode(mac.digest()).decode()

    def send(self, message: Message) -> None:
        text = message.markdown
        if message.phones:
            # DingTalk only notifies the people @-ed whose numbers also appear in the markdown text
            text += "\n\n" + " ".join(f"@{p}" for p in message.phones)
        payload = {"msgtype": "markdown",
                   "markdown": {"title": message.subject, "text": _truncate_utf8(text, 20000)},
                   "at": {"atMobiles": list(message.phones), "isAtAll": False}}
        params = None
        if self._secret:
            timestamp = int(self._clock() * 1000)
            # httpx percent-encodes the value, which is the urlEncode DingTalk's documentation asks for
            params = {"timestamp": str(timestamp), "sign": self.sign(timestamp)}
        self._deliver(payload, params)


class WeComRobot(_Robot):
    """WeCom group robot: the key in its URL is its only credential, so the URL is a secret."""

    kind = "wecom"
    # 45009: API frequency limit (20/min per robot); -1: system busy
    retryable_codes = frozenset({45009, -1})

    def __init__(self, name: str, url: str, **kwargs: Any):
        super().__init__(name, url, **kwargs)

    def send(self, message: Message) -> None:
        self._deliver({"msgtype": "markdown", "markdown": {"content": _truncate_utf8(message.markdown, 4096)}})


class FeishuRobot(_Robot):
    """Feishu custom bot; with a secret ("签名校验"), the body carries a timestamp and its signature."""

    kind = "feishu"
    code_field = "code"
    # 11232: frequency limited (100/min, 5/s per bot)
    retryable_codes = frozenset({11232})

    def __init__(self, name: str, url: str, secret: str | None = None, **kwargs: Any):
        super().__init__(name, url, secret=secret, **kwargs)

    def sign(self, timestamp_s: int) -> str:
        assert self._secret is not None
        # Feishu keys the HMAC with "timestamp\nsecret" and signs an empty message (sic)
        mac = hmac.new(f"{timestamp_s}\n{self._secret}".encode(), b"", hashlib.sha256)
        return base64.b64encode(mac.digest()).decode()

    def send(self, message: Message) -> None:
        payload: dict[str, Any] = {"msg_type": "text",
                                   "content": {"text": _truncate_utf8(f"{message.subject}\n{message.text}", 30000)}}
        if self._secret:
            timestamp = int(self._clock())
            payload = {"timestamp": str(timestamp), "sign": self.sign(timestamp), **payload}
        self._deliver(payload)

