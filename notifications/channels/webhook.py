"""Signed JSON webhooks, and the HTTP plumbing the chat robots share (posting, redaction, error kinds).

A receiver checks `X-Campaignflow-Signature: sha256=<hex>`, the HMAC-SHA256 of
`f"{timestamp}.{body}"` under the shared secret, and rejects stale timestamps to stop replays.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Collection, Iterable
from typing import Any
from urllib.parse import urlsplit

import httpx

from .base import DeliveryError, Message

DEFAULT_TIMEOUT = 10.0
# hook URLs of Feishu, Slack and the like carry their token in the path, not the query
_TOKENISH = re.compile(r"^(?=.*\d)[A-Za-z0-9_\-]{16,}$")


def redact_url(url: str) -> str:
    """The URL without query, fragment, credentials or token-like path segments: safe for logs."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:
        return "<invalid url>"
    path = "/".join("***" if _TOKENISH.match(seg) else seg for seg in parts.path.split("/"))
    return f"{parts.scheme}://{host}{path}"


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Masks every secret (and every query value of a secret URL) that a peer or library echoed back."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _url_secrets(url: str) -> list[str]:
    parts = urlsplit(url)
    values = [v for pair in parts.query.split("&") for v in pair.split("=", 1)[1:]]
    return [url, parts.query, *values, *(seg for seg in parts.path.split("/") if _TOKENISH.match(seg))]


class HttpChannel:
    """Base of the HTTP channels: one pooled client per channel, errors classified, secrets kept out."""

    kind = "http"

    def __init__(self, name: str, url: str, *, secret: str | None = None, units: Collection[str] | None = None,
                 timeout: float = DEFAULT_TIMEOUT, client: httpx.Client | None = None,
                 clock: Callable[[], float] = time.time):
        self.name = name
        self._url = url
        self._secret = secret
        self._units = None if units is None else frozenset(units)
        self._own_client = client is None
        self._client = client or httpx.Client(timeout=timeout)
        # the one clock in notifications/, at the transport edge: a signature's timestamp must be the
        # moment of sending (peers refuse stale ones, and a retry is sent hours after its tick);
        # injectable so signature tests need no sleeping or patching
        self._clock = clock

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} kind={self.kind!r}>"

    def accepts(self, message: Message) -> bool:
        return self._units is None or message.recipient in self._units

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    def _fail(self, what: str, retryable: bool) -> DeliveryError:
        text = f"{self.kind} '{self.name}' ({redact_url(self._url)}): {what}"
        return DeliveryError(scrub(text, [self._secret, *_url_secrets(self._url)]), retryable=retryable)

    def _post(self, body: bytes, *, params: dict[str, str] | None = None,
              headers: dict[str, str] | None = None) -> httpx.Response:
        url = httpx.URL(self._url).copy_merge_params(params) if params else self._url
        try:
            return self._client.post(url, content=body, headers={
                "Content-Type": "application/json; charset=utf-8", **(headers or {})})
        except httpx.TimeoutException as exc:
            raise self._fail(f"请求超时 (timed out: {type(exc).__name__})", retryable=True) from None
        except httpx.TransportError as exc:
            raise self._fail(f"连接失败 (connection failed: {type(exc).__name__}: {exc})", retryable=True) from None

    def _check_status(self, response: httpx.Response) -> None:
        code = response.status_code
        if 200 <= code < 300:
            return
        snippet = response.text[:200]
        raise self._fail(f"HTTP {code} {snippet}", retryable=code >= 500 or code == 429)

    @staticmethod
    def _json(message: Any) -> bytes:
        return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class WebhookChannel(HttpChannel):
    """POSTs every Message field as JSON, signed with HMAC-SHA256 over the timestamp and the body."""

    kind = "webhook"

    def __init__(self, name: str, url: str, secret: str, **kwargs: Any):
        if not secret:
            raise ValueError(f"webhook '{name}' needs a secret")
        super().__init__(name, url, secret=secret, **kwargs)

    def send(self, message: Message) -> None:
        body = self._json(dataclasses.asdict(message))
        timestamp = str(int(self._clock()))
        assert self._secret is not None
        digest = hmac.new(self._secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        response = self._post(body, headers={
            "X-Campaignflow-Timestamp": timestamp,
            "X-Campaignflow-Signature": f"sha256={digest}",
            "X-Campaignflow-Message-Id": message.message_id,
        })
        self._check_status(response)
