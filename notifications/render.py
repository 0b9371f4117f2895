"""Rendering digests: one message per recipient (and channel) per tick, from Jinja2 templates.

Chinese by default, English available; a campaign may give its own templates (spec `messages`).
Rendering is pure: rows and an instant in, `Message` out; sending is the channels' business.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import groupby
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from .channels.base import Message

KIND_LABEL = {
    "zh": {"before": "即将到期", "on_due": "今日到期", "overdue": "已逾期", "escalation": "督办", "manual": "催报"},
    "en": {"before": "due soon", "on_due": "due today", "overdue": "overdue", "escalation": "escalation",
           "manual": "reminder from the organizer"},
}
TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=4)
def _env(autoescape: bool) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=autoescape,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=False)


def _template(kind: str, lang: str, custom: dict[str, Any]) -> jinja2.Template:
    html = kind == "html"
    if custom.get(kind):
        return _env(html).from_string(custom[kind])
    return _env(html).get_template(f"digest.{lang}.{kind}.j2")


def _when(days: int, lang: str) -> str:
    if lang == "en":
        return f"{days} day(s) left" if days >= 0 else f"{-days} day(s) overdue"
    return f"还剩 {days} 天" if days >= 0 else f"已逾期 {-days} 天"


PROBLEM_CHARS = 30  # a ledger item's problem, shortened to stand where an artifact's title stands


def _short(text: str, limit: int = PROBLEM_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _title(r: Any, titles: dict[str, str]) -> str:
    """An artifact's title; for a ledger item's deadline (整改台账), its problem, shortened."""
    if getattr(r, "item_id", None) is not None:
        return _short(r.problem)
    return titles.get(r.artifact, r.artifact)


def _item(r: Any, at: dt.datetime, tz: ZoneInfo, lang: str, titles: dict[str, str]) -> dict[str, Any]:
    days = (r.due_at.astimezone(tz).date() - at.astimezone(tz).date()).days
    return {"unit": r.unit, "unit_name": r.unit_name, "artifact": r.artifact, "artifact_title": _title(r, titles),
            "step": r.step_title, "kind": r.kind, "kind_label": KIND_LABEL[lang][r.kind],
            "due": f"{r.due_at.astimezone(tz):%Y-%m-%d %H:%M}", "due_iso": r.due_at.astimezone(tz).isoformat(),
            "days_left": days, "days_overdue": max(-days, 0), "when": _when(days, lang)}


def file_hint(campaign: str, recipient: str, base_url: str | None) -> str:
    if base_url:
        return f"{base_url.rstrip('/')}/campaigns/{campaign}/units/{recipient}"
    return f"campaign file {campaign} --unit {recipient} --artifact <材料类型/artifact>"


def render(campaign: str, campaign_title: str, recipient: str, recipient_name: str, contacts: Sequence[dict[str, Any]],
           rows: Sequence[Any], at: dt.datetime, tz: ZoneInfo, *, titles: dict[str, str],
           messages: dict[str, Any] | None = None, base_url: str | None = None, salt: str = "") -> Message:
    """One recipient's digest: their own items and, for a supervisor, the escalated items of their units."""
    custom = messages or {}
    lang = custom.get("language", "zh")
    items = [_item(r, at, tz, lang, titles) for r in rows]
    own = [i for i in items if i["kind"] != "escalation"]
    escalations = [i for i in items if i["kind"] == "escalation"]
    context = {"campaign": campaign, "campaign_title": campaign_title, "recipient": recipient,
               "recipient_name": recipient_name, "own": own, "escalations": escalations,
               "overdue": sum(1 for i in own if i["kind"] == "overdue"), "file_hint": file_hint(campaign, recipient, base_url),
               "at": at.astimezone(tz).isoformat()}
    subject = " ".join(_template("subject", lang, custom).render(context).split())
    text = _template("text", lang, custom).render(context).strip() + "\n"
    html = _template("html", lang, custom).render(context)
    ids = ",".join(str(r.id) for r in rows)
    # the same reminders to the same recipient and channel are the same message: a resend after a
    # crash keeps its Message-ID, so a mail client or a robot log shows it as a repeat
    message_id = hashlib.sha256(f"{campaign}|{recipient}|{salt}|{ids}".encode()).hexdigest()[:24]
    return Message(
        message_id=message_id, campaign=campaign, recipient=recipient, recipient_name=recipient_name,
        emails=[c["email"] for c in contacts if c.get("email")], phones=[str(c["phone"]) for c in contacts if c.get("phone")],
        subject=subject, text=text, markdown=f"### {subject}\n\n{text}", html=html,
        at_iso=at.astimezone(tz).isoformat(),
        items=[{k: i[k] for k in ("unit", "artifact", "artifact_title", "step", "kind", "due_iso", "days_left")} for i in items])


def group_rows(rows: Iterable[Any]) -> list[tuple[tuple[str, str], list[Any]]]:
    """Rows grouped by (recipient, channel): each group becomes one message."""
    return [(key, list(group)) for key, group in groupby(rows, key=lambda r: (r.recipient, r.channel))]
