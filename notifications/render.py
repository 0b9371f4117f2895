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
from urllib.parse import quote, urlencode
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


# the "step" of a ledger item's deadline: the store gives none (an item belongs to no step), so the
# digest names the ledger in the campaign's language
ITEM_STEP = {"zh": "整改台账", "en": "rectification ledger"}
LINK_LABEL = {"zh": {"file": "报送地址", "ledger": "台账地址", "escalation": "查看地址"},
              "en": {"file": "File at", "ledger": "Ledger", "escalation": "See"}}


def _item(r: Any, at: dt.datetime, tz: ZoneInfo, lang: str, titles: dict[str, str], base_url: str | None,
          campaign: str) -> dict[str, Any]:
    days = (r.due_at.astimezone(tz).date() - at.astimezone(tz).date()).days
    is_item = getattr(r, "item_id", None) is not None
    target = "escalation" if r.kind == "escalation" else "ledger" if is_item else "file"
    return {"unit": r.unit, "unit_name": r.unit_name, "artifact": r.artifact, "artifact_title": _title(r, titles),
            "step": ITEM_STEP[lang] if is_item else r.step_title, "kind": r.kind, "kind_label": KIND_LABEL[lang][r.kind],
            "due": f"{r.due_at.astimezone(tz):%Y-%m-%d %H:%M}", "due_iso": r.due_at.astimezone(tz).isoformat(),
            "days_left": days, "days_overdue": max(-days, 0), "when": _when(days, lang),
            "link": item_link(base_url, campaign, r.unit, r.artifact, r.item_id if is_item else None),
            "link_label": LINK_LABEL[lang][target], "ledger": is_item,
            # a filing the reviewer returned (退回): the reminder says so and quotes what to fix
            "returned": not is_item and getattr(r, "state", None) == "rejected",
            "comment": getattr(r, "review_comment", None) if not is_item else None}


def item_link(base_url: str | None, campaign: str, unit: str, artifact: str, item_id: int | None = None) -> str | None:
    """The dashboard page where `unit` deals with one reminded item (after login), or None without an address.

    An artifact: the filing form with that unit and artifact chosen (an escalation links the supervisor to
    the late unit's form: what it owes and has filed, and the way to file for it). A ledger item's
    deadline: the ledger filtered to the unit, at the item. These are the dashboard's routes
    (campaign_app/web: /c/{key}/file, /c/{key}/ledger); every part is URL-quoted.
    """
    if not base_url:
        return None
    root = f"{base_url.rstrip('/')}/c/{quote(campaign, safe='')}"
    if item_id is not None:
        return f"{root}/ledger?{urlencode({'unit': unit})}#item-{item_id}"
    return f"{root}/file?{urlencode({'unit': unit, 'artifact': artifact})}"


def _quoted(titles: list[str], lang: str) -> str:
    return "、".join(f"“{t}”" for t in titles) if lang == "zh" else ", ".join(f"“{t}”" for t in titles)


def file_hint(own: list[dict[str, Any]], escalations: list[dict[str, Any]], lang: str, linked: bool,
              organizer_name: str | None = None, led: bool = False) -> str:
    """How and where to file, in words and in the campaign's language only (an official message).

    With an address configured each item carries its link; without one the message says where to go on
    the campaign's filing site: never a command line, which a school clerk does not have.
    """
    if linked:
        return ("点击各项下方的链接，登录本活动的报送网站即可办理。" if lang == "zh"
                else "Follow the link under each item and log in to the campaign's filing site.")
    if led:  # a lead office, a responsible leader, the leading group's office: they follow up, they do not file
        if lang == "zh":
            return ("请登录本活动的报送网站，在“整改台账”和“总览”页查看所列单位的进展并督促落实。"
                    + (f"如有疑问请联系{organizer_name}。" if organizer_name else ""))
        return ("Log in to the campaign's filing site and follow the listed units' progress on the “Ledger” and "
                "“Overview” pages." + (f" Questions: please contact {organizer_name}." if organizer_name else ""))
    artifacts = list(dict.fromkeys(i["artifact_title"] for i in own if not i["ledger"]))
    ledger = any(i["ledger"] for i in own)
    if lang == "zh":
        parts = ([f"在“报送材料”页选择本单位和{_quoted(artifacts, lang)}报送"] if artifacts else []) + \
            (["在“整改台账”页报告整改进展并上传佐证材料"] if ledger else [])
        text = f"请登录本活动的报送网站，{'；'.join(parts)}。" if parts else ""
        text += "请督促所列下属单位登录本活动的报送网站报送。" if escalations else ""
        return text + (f"如有疑问请联系{organizer_name}。" if organizer_name else "")
    parts = ([f"on the “File” page choose your unit and {_quoted(artifacts, lang)}"] if artifacts else []) + \
        (["on the “Ledger” page report your progress with its evidence"] if ledger else [])
    text = f"Log in to the campaign's filing site; {'; '.join(parts)}." if parts else ""
    if escalations:
        text += (" " if text else "") + "Please ask the units listed to file on the campaign's filing site."
    return text + (f" Questions: please contact {organizer_name}." if organizer_name else "")


def render(campaign: str, campaign_title: str, recipient: str, recipient_name: str, contacts: Sequence[dict[str, Any]],
           rows: Sequence[Any], at: dt.datetime, tz: ZoneInfo, *, titles: dict[str, str],
           messages: dict[str, Any] | None = None, base_url: str | None = None, salt: str = "",
           organizer_name: str | None = None, person: bool = False) -> Message:
    """One recipient's digest: their own items and, for a supervisor, the escalated items of their units.

    A `person` recipient (a lead office, a responsible leader, the leading group's office) owes nothing
    itself: every item is one it leads or answers for (`led`), named with its unit.

    `titles` are the artifacts' titles in the campaign's language (see `artifact_titles`).
    """
    custom = messages or {}
    lang = custom.get("language", "zh")
    items = [_item(r, at, tz, lang, titles, base_url, campaign) for r in rows]
    led = items if person else []
    own = [] if person else [i for i in items if i["kind"] != "escalation"]
    escalations = [] if person else [i for i in items if i["kind"] == "escalation"]
    context = {"campaign": campaign, "campaign_title": campaign_title, "recipient": recipient,
               "recipient_name": recipient_name, "own": own, "escalations": escalations, "led": led,
               "overdue": sum(1 for i in own if i["kind"] == "overdue"),
               "led_overdue": sum(1 for i in led if i["days_left"] < 0),
               "file_hint": file_hint(own, escalations, lang, bool(base_url), organizer_name, led=bool(led)),
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


def artifact_titles(artifacts: dict[str, Any], lang: str) -> dict[str, str]:
    """Each artifact kind's title in the campaign's language: `title_en` in English where the spec gives one."""
    return {k: str((v.get("title_en") if lang == "en" else None) or v.get("title") or k) for k, v in artifacts.items()}


def group_rows(rows: Iterable[Any]) -> list[tuple[tuple[str, str], list[Any]]]:
    """Rows grouped by (recipient, channel): each group becomes one message."""
    return [(key, list(group)) for key, group in groupby(rows, key=lambda r: (r.recipient, r.channel))]
