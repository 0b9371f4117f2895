"""Delivery channels: email (SMTP), chat robots (DingTalk, WeCom, Feishu), signed webhooks, JSON lines."""

from .base import Channel, DeliveryError, Message

__all__ = ["Channel", "DeliveryError", "Message"]
