"""What every delivery channel offers: send one rendered message, or raise `DeliveryError`.

    DeliveryError          the message was not delivered
      retryable=True       a transient fault (connection refused, timeout, 5xx, rate limit): retry later
      retryable=False      the peer refused it for good (bad address, 4xx, bad signature): dead at once

A channel never logs or repeats its secrets; `repr()` of a channel shows its name and kind only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Message:
    """One rendered digest for one recipient, ready for any channel."""

    message_id: str
    campaign: str
    recipient: str  # a unit key (or "admins" for a notice)
    recipient_name: str
    emails: list[str]
    phones: list[str]
    subject: str
    text: str  # plain text
    markdown: str  # for chat robots
    html: str | None = None
    at_iso: str = ""
    items: list[dict[str, Any]] = field(default_factory=list)


class DeliveryError(Exception):
    def __init__(self, message: str, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


class Channel(Protocol):
    name: str  # the configured name, e.g. "mail" or "county-group"
    kind: str  # email | dingtalk | wecom | feishu | webhook | file

    def accepts(self, message: Message) -> bool:
        """Whether this channel can deliver to the message's recipient (e.g. email needs an address)."""
        ...

    def send(self, message: Message) -> None: ...

    def close(self) -> None: ...
