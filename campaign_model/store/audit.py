"""Appending to and verifying the audit chain in the database.

Reading for verification trusts nothing stored: each event's instants and JSON are decoded here, row by
row, so that a value made unreadable is named as tampering (`Unreadable`) instead of stopping the read,
and a dropped audit table is named as missing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, String, Text, cast, insert, inspect, select, type_coerce, update

from ..audit import GENESIS, Anchor, AuditEvent, Unreadable, Verdict, event_hash, verify_chain
from .tables import audit_checks, audit_events, audit_head

AUDIT_TABLES = (audit_events.name, audit_head.name, audit_checks.name)


@dataclass(frozen=True)
class Act:
    """Who acts, at which instant (simulated or real), and when it was recorded (the real clock)."""

    at: dt.datetime
    actor: str
    recorded_at: dt.datetime


# append's statements, built once: building them anew took most of an append's time (it is in every action);
# the values go as parameters
_HEAD = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
_INSERT_EVENT = insert(audit_events)
_UPDATE_HEAD = update(audit_head).where(audit_head.c.id == 1)


def append(conn: Connection, act: Act, action: str, campaign: str | None, subject: str,
           before: Any = None, after: Any = None) -> int:
    # updating the head first takes the write lock (PostgreSQL row lock, SQLite writer lock)
    head = conn.execute(_HEAD).first()
    if head is None:
        conn.execute(insert(audit_head).values(id=1, seq=0, hash=GENESIS))
        seq, prev = 0, GENESIS
    else:
        seq, prev = head.seq, head.hash
    event = AuditEvent(seq + 1, act.at, act.recorded_at, act.actor, action, campaign, subject, before, after, prev)
    digest = event_hash(event)
    conn.execute(_INSERT_EVENT, {
        "seq": event.seq, "at": act.at, "recorded_at": act.recorded_at, "actor": act.actor, "action": action,
        "campaign": campaign, "subject": subject, "before": before, "after": after, "prev_hash": prev, "hash": digest})
    conn.execute(_UPDATE_HEAD, {"seq": event.seq, "hash": digest})
    return event.seq


def _rows(conn: Connection, campaign: str | None = None) -> Any:
    q = select(*_RAW_COLUMNS).order_by(audit_events.c.seq)
    if campaign:
        q = q.where(audit_events.c.campaign == campaign)
    return conn.execute(q)


# the instants as the driver gives them (SQLite: text; PostgreSQL: a datetime, or text when the column was
# retyped) and the JSON as its text, so that this module decodes them and can say which one is unreadable
_RAW_COLUMNS = [type_coerce(c, String()).label(c.name) if c.name in ("at", "recorded_at")
                else cast(c, Text).label(c.name) if c.name in ("before", "after") else c
                for c in audit_events.columns]


def _instant(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, str):
        parsed = dt.datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    raise ValueError(f"not an instant: {type(value).__name__}")


def decode(r: Any) -> AuditEvent | Unreadable:
    """One stored row as an event, or as `Unreadable` naming the first column that does not decode."""
    values: dict[str, Any] = {}
    for name, parse in (("at", _instant), ("recorded_at", _instant),
                        ("before", lambda v: None if v is None else json.loads(v)),
                        ("after", lambda v: None if v is None else json.loads(v))):
        raw = getattr(r, name)
        try:
            values[name] = parse(raw)
        except (ValueError, TypeError, OverflowError, RecursionError):
            shown = str(raw)
            return Unreadable(int(r.seq), f"{name} = {shown[:60]!r}{'…' if len(shown) > 60 else ''}")
    return AuditEvent(r.seq, values["at"], values["recorded_at"], r.actor, r.action, r.campaign, r.subject,
                      values["before"], values["after"], r.prev_hash, r.hash)


def events(conn: Connection, campaign: str | None = None) -> list[AuditEvent | Unreadable]:
    return [decode(r) for r in _rows(conn, campaign)]


def log(conn: Connection, campaign: str | None = None) -> list[Any]:
    """The whole log as shown, oldest first: an unreadable event with its stored text, flagged."""
    if audit_events.name in missing_tables(conn):
        return []
    return [shown(r) for r in _rows(conn, campaign)]


def missing_tables(conn: Connection) -> list[str]:
    """The audit tables that are not there (dropped: tampering); one catalogue look-up each."""
    look = inspect(conn)
    return [name for name in AUDIT_TABLES if not look.has_table(name)]


def _missing(tables: list[str]) -> Verdict:
    names = ", ".join(tables)
    return Verdict(False, 0, None, f"审计表 {names} 不存在，已被删除 (the audit table {names} is missing: dropped)")


def verify(conn: Connection, anchors: Iterable[Anchor] = ()) -> Verdict:
    if gone := missing_tables(conn):
        return _missing(gone)
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
    return verify_chain(events(conn), (head.seq, head.hash) if head else (0, GENESIS), anchors)


def head_seq(conn: Connection) -> int:
    """The sequence number of the chain's last event (0 for an empty log): one row read."""
    return int(conn.execute(select(audit_head.c.seq).where(audit_head.c.id == 1)).scalar() or 0)


def full_check(conn: Connection, anchors: Iterable[Anchor] = ()) -> tuple[Verdict, int]:
    """Re-hash the whole chain up to the head read first, so that events appended meanwhile by other
    writers are left to the next check rather than read as a broken tail; returns (verdict, head's seq).
    Each anchor's event must still be in the chain with its hash."""
    if gone := missing_tables(conn):
        return _missing(gone), 0
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
    seq, digest = (int(head.seq), head.hash) if head else (0, GENESIS)
    rows = conn.execute(select(*_RAW_COLUMNS).where(audit_events.c.seq <= seq).order_by(audit_events.c.seq))
    chain: Iterator[AuditEvent | Unreadable] = (decode(r) for r in rows)
    return verify_chain(chain, (seq, digest), anchors), seq


def head(conn: Connection) -> tuple[int, str]:
    """The chain's head (seq, hash) as recorded: what a report or notice prints as its anchor."""
    row = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
    return (int(row.seq), str(row.hash)) if row else (0, GENESIS)


def record_check(conn: Connection, verdict: Verdict, up_to: int, at: dt.datetime, by: str) -> dict[str, Any]:
    """Keep the result of a full check (a short write, after the check itself ran in a read); when the
    table of checks itself was dropped, the verdict (which says so) is returned unkept."""
    doc = {"checked_at": at, "by": by, "up_to_seq": up_to, "events": verdict.count, "ok": verdict.ok,
           "first_bad": verdict.first_bad, "reason": verdict.reason or None}
    if audit_checks.name not in missing_tables(conn):
        conn.execute(insert(audit_checks).values(**doc))
    return doc


def last_check(conn: Connection) -> dict[str, Any] | None:
    """The latest full check, or None when the chain was never fully verified: one row read. With an
    audit table dropped, the verdict that says so (not kept: the checks' table may be the one gone)."""
    if gone := missing_tables(conn):
        return {**_check_doc(_missing(gone)), "checked_at": None, "by": "", "up_to_seq": 0}
    row = conn.execute(select(audit_checks).order_by(audit_checks.c.id.desc()).limit(1)).first()
    return dict(row._mapping) if row else None


def search(conn: Connection, campaign: str | None = None, text: str | None = None, limit: int = 100,
           offset: int = 0) -> tuple[int, list[Any]]:
    """Events newest first, optionally of one campaign and containing `text` in actor, action or subject;
    returns (how many match, this page of them)."""
    from sqlalchemy import func, or_

    where = []
    if campaign:
        where.append(audit_events.c.campaign == campaign)
    if text:
        like = f"%{text.replace('%', '').replace('_', '')}%"
        where.append(or_(audit_events.c.actor.like(like), audit_events.c.action.like(like),
                         audit_events.c.subject.like(like)))
    if audit_events.name in missing_tables(conn):
        return 0, []
    total = conn.execute(select(func.count()).select_from(audit_events).where(*where)).scalar_one()
    rows = conn.execute(select(*_RAW_COLUMNS).where(*where).order_by(audit_events.c.seq.desc())
                        .limit(limit).offset(offset)).all()
    return int(total), [shown(r) for r in rows]


def shown(r: Any) -> Any:
    """A row as the log shows it: decoded, or (an unreadable event) its stored values as text, flagged."""
    e = decode(r)
    if isinstance(e, Unreadable):
        # each value decoded where it can be, else its stored text
        at, recorded_at = (_or_raw(_instant, getattr(r, name)) for name in ("at", "recorded_at"))
        before, after = (_or_raw(lambda v: None if v is None else json.loads(v), getattr(r, name))
                         for name in ("before", "after"))
        return _Shown(r.seq, at, recorded_at, r.actor, r.action, r.campaign, r.subject, before, after,
                      r.prev_hash, r.hash, e.what)
    return _Shown(e.seq, e.at, e.recorded_at, e.actor, e.action, e.campaign, e.subject, e.before, e.after,
                  e.prev_hash, e.hash, None)


def _or_raw(parse: Any, value: Any) -> Any:
    try:
        return parse(value)
    except (ValueError, TypeError, OverflowError, RecursionError):
        return value


@dataclass(frozen=True)
class _Shown:
    seq: int
    at: Any  # an aware instant, or the stored text of an unreadable event
    recorded_at: Any
    actor: str
    action: str
    campaign: str | None
    subject: str
    before: Any
    after: Any
    prev_hash: str
    hash: str
    unreadable: str | None  # what does not decode, for an event that was tampered with


def _check_doc(verdict: Verdict) -> dict[str, Any]:
    return {"events": verdict.count, "ok": verdict.ok, "first_bad": verdict.first_bad, "reason": verdict.reason}
