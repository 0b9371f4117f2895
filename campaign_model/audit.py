"""The audit chain: each event hashes the one before it, so an edit, insertion or deletion shows.

An event that cannot even be read (its JSON made invalid, its instant no date) is tampering too: the
store hands it over as `Unreadable` and the verdict names it. Deleting the last events and moving the
head to match leaves a chain consistent in itself; only an `Anchor` kept outside the database (the
data directory's anchor file, the head printed on a report or notice) shows it: the chain must still
hold the anchor's event with the anchor's hash.
"""

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
class Unreadable:
    """An event row whose stored values do not decode: `what` names the column and the problem."""

    seq: int
    what: str


@dataclass(frozen=True)
class Anchor:
    """The head (seq, hash) as seen outside the database at `at` (ISO 8601), by `source`."""

    seq: int
    hash: str  # the full hash, or (typed from a printed report) a prefix of at least MIN_PREFIX digits
    at: str = ""
    source: str = ""


MIN_PREFIX = 16


@dataclass(frozen=True)
class Verdict:
    ok: bool
    count: int
    first_bad: int | None = None
    reason: str = ""
    head: tuple[int, str] | None = None  # the (seq, hash) the chain verified up to, when it did


def parse_anchor(text: str) -> Anchor:
    """`SEQ:HASH` as printed on a report or notice (the hash may be shortened to MIN_PREFIX hex digits)."""
    seq, sep, digest = text.strip().partition(":")
    digest = digest.strip().lower()
    if (not sep or not seq.strip().isdigit() or not 0 < int(seq) < 2**63 or len(digest) < MIN_PREFIX
            or len(digest) > 64 or any(c not in "0123456789abcdef" for c in digest)):
        raise ValueError(f"应写作 序号:哈希，如 123:{'3f' * 8}… (write SEQ:HASH as printed on a report, "
                         f"the hash at least {MIN_PREFIX} hex digits)")
    return Anchor(int(seq), digest, source="given")


def _anchor_words(a: Anchor) -> str:
    when = f", at {a.at}" if a.at else ""
    by = f", {a.source}" if a.source else ""
    return f"{when}{by}"


def verify_chain(events: Iterable[AuditEvent | Unreadable], head: tuple[int, str] | None,
                 anchors: Iterable[Anchor] = ()) -> Verdict:
    """Walk the chain in order; `head` is the recorded (seq, hash) of the last event; each anchor's
    event must be in the chain with the anchor's hash (else: truncated or rewritten after it)."""
    wanted = {a.seq: a for a in sorted(anchors, key=lambda a: a.seq)}
    seen: dict[int, str] = {}
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for e in events:
        count += 1
        if e.seq != expected_seq:
            what = "deleted" if e.seq > expected_seq else "inserted"
            return Verdict(False, count, expected_seq if what == "deleted" else e.seq,
                           f"事件 #{expected_seq} 缺失或顺序被改动 (event #{expected_seq} was {what})")
        if isinstance(e, Unreadable):
            return Verdict(False, count, e.seq, f"事件 #{e.seq} 无法读取，存储的值被改动：{e.what} "
                                                f"(event #{e.seq} cannot be read, its stored values were altered: {e.what})")
        if e.prev_hash != prev_hash:
            return Verdict(False, count, e.seq, f"事件 #{e.seq} 与前一事件不相接 "
                                                f"(event #{e.seq} does not follow the one before: inserted or deleted)")
        if event_hash(e) != e.hash:
            return Verdict(False, count, e.seq, f"事件 #{e.seq} 的内容被改动 (event #{e.seq} was altered)")
        if e.seq in wanted:
            seen[e.seq] = e.hash
        prev_hash, expected_seq = e.hash, expected_seq + 1
    last = (expected_seq - 1, prev_hash)
    if head is not None and head != last and not (head[0] == 0 and last[0] == 0):
        return Verdict(False, count, head[0] if head[0] > last[0] else last[0],
                       f"链尾不符：记录的最后事件为 #{head[0]}，实际为 #{last[0]} "
                       f"(the chain's head says #{head[0]} but the log ends at #{last[0]}: events deleted or appended)")
    for seq, anchor in wanted.items():
        found = seen.get(seq)
        if found is not None and found.startswith(anchor.hash):
            continue
        first = seq if found is not None else last[0] + 1
        now = (f"该事件的哈希已不同 (event #{seq} now has another hash)" if found is not None
               else f"链止于 #{last[0]} (the chain now ends at #{last[0]}, event #{first} on are gone)")
        return Verdict(False, count, first,
                       f"审计链在锚点 #{seq} 之后被截断或改写：{now} "
                       f"(truncated or rewritten after anchor #{seq}{_anchor_words(anchor)})")
    return Verdict(True, count, head=last)
