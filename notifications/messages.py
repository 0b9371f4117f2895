"""Digest messages: one per recipient per tick, listing every item due or overdue (Chinese, then English)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

KIND_ZH = {"before": "即将到期", "on_due": "今日到期", "overdue": "已逾期", "escalation": "督办"}


@dataclass
class Digest:
    message_id: str
    campaign: str
    recipient: str
    unit_name: str
    to: list[str]
    outbox_ids: list[int]
    subject: str
    text: str
    items: list[dict[str, Any]] = field(default_factory=list)


def _days(due: dt.datetime, at: dt.datetime, tz: ZoneInfo) -> int:
    return (due.astimezone(tz).date() - at.astimezone(tz).date()).days


def build_digests(campaign: str, title: str, rows: Iterable[Any], at: dt.datetime, tz: ZoneInfo,
                  artifact_titles: dict[str, str] | None = None) -> list[Digest]:
    """Group due outbox rows by recipient into one message each (pure: no I/O, no clock)."""
    names = artifact_titles or {}
    digests = []
    for recipient, group in groupby(rows, key=lambda r: r.recipient):
        items = list(group)
        lines = []
        for r in items:
            days = _days(r.due_at, at, tz)
            when = f"还剩 {days} 天 ({days} days left)" if days >= 0 else f"已逾期 {-days} 天 ({-days} days overdue)"
            lines.append(f"- [{KIND_ZH.get(r.kind, r.kind)}] {r.step_title}：{names.get(r.artifact, r.artifact)} ({r.artifact})，截止 "
                         f"{r.due_at.astimezone(tz):%Y-%m-%d %H:%M}，{when}")
        overdue = sum(1 for r in items if r.kind == "overdue")
        subject = f"【{title}】{items[0].unit_name}：{len(items)} 项材料待报送" + (f"，其中 {overdue} 项已逾期" if overdue else "")
        text = (f"{items[0].unit_name}：\n以下材料请尽快报送 (please file the following):\n" + "\n".join(lines)
                + f"\n\n报送方式 (how to file): campaign file {campaign} --unit {recipient} --artifact <材料类型>")
        mid = hashlib.sha256(f"{campaign}|{recipient}|{at.isoformat()}|{[r.id for r in items]}".encode()).hexdigest()[:16]
        digests.append(Digest(
            mid, campaign, recipient, items[0].unit_name, [c["email"] for c in items[0].contacts if c.get("email")],
            [r.id for r in items], subject, text,
            [{"artifact": r.artifact, "title": names.get(r.artifact, r.artifact), "step": r.step_title, "kind": r.kind,
              "due": r.due_at.astimezone(tz).isoformat()} for r in items]))
    return digests
