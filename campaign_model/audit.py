"""The audit chain: each event hashes the one before it, so an edit, insertion or deletion shows."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    at: dt.datetime
    recorded_at: dt.datetime
    actor: str
    action: str
    campaign: str | None
    subject: str
    before: Any
    after: Any
    prev_hash: str
    hash: str = ""


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def event_hash(e: AuditEvent) -> str:
    body = [e.seq, _iso(e.at), _iso(e.recorded_at), e.actor, e.action, e.campaign, e.subject, e.before, e.after, e.prev_hash]
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Verdict:
    ok: bool
    count: int
    first_bad: int | None = None
    reason: str = ""


def verify_chain(events: Iterable[AuditEvent], head: tuple[int, str] | None) -> Verdict:
    """Walk the chain in order; `head` is the recorded (seq, hash) of the last event."""
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for e in events:
        count += 1
        if e.seq != expected_seq:
            what = "deleted" if e.seq > expected_seq else "inserted"
            return Verdict(False, count, expected_seq if what == "deleted" else e.seq,
                           f"事件 #{expected_seq} 缺失或顺序被改动 (event #{expected_seq} was {what})")
        if e.prev_hash != prev_hash:
            return Verdict(False, count, e.seq, f"事件 #{e.seq} 与前一事件不相接 "
                                                f"(event #{e.seq} does not follow the one before: inserted or deleted)")
        if event_hash(e) != e.hash:
            return Verdict(False, count, e.seq, f"事件 #{e.seq} 的内容被改动 (event #{e.seq} was altered)")
        prev_hash, expected_seq = e.hash, expected_seq + 1
    last = (expected_seq - 1, prev_hash)
    if head is not None and head != last and not (head[0] == 0 and last[0] == 0):
        return Verdict(False, count, head[0] if head[0] > last[0] else last[0],
                       f"链尾不符：记录的最后事件为 #{head[0]}，实际为 #{last[0]} "
                       f"(the chain's head says #{head[0]} but the log ends at #{last[0]}: events deleted or appended)")
    return Verdict(True, count)
