"""Appending to and verifying the audit chain in the database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from ..audit import GENESIS, AuditEvent, Verdict, event_hash, verify_chain
from .tables import audit_checks, audit_events, audit_head


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
    q = select(audit_events).order_by(audit_events.c.seq)
    if campaign:
        q = q.where(audit_events.c.campaign == campaign)
    return conn.execute(q)


def events(conn: Connection, campaign: str | None = None) -> list[AuditEvent]:
    return [AuditEvent(r.seq, r.at, r.recorded_at, r.actor, r.action, r.campaign, r.subject, r.before, r.after,
                       r.prev_hash, r.hash) for r in _rows(conn, campaign)]


def verify(conn: Connection) -> Verdict:
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
    return verify_chain(events(conn), (head.seq, head.hash) if head else (0, GENESIS))


def head_seq(conn: Connection) -> int:
    """The sequence number of the chain's last event (0 for an empty log): one row read."""
    return int(conn.execute(select(audit_head.c.seq).where(audit_head.c.id == 1)).scalar() or 0)


def full_check(conn: Connection) -> tuple[Verdict, int]:
    """Re-hash the whole chain up to the head read first, so that events appended meanwhile by other
    writers are left to the next check rather than read as a broken tail; returns (verdict, head's seq)."""
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
    seq, digest = (int(head.seq), head.hash) if head else (0, GENESIS)
    rows = conn.execute(select(audit_events).where(audit_events.c.seq <= seq).order_by(audit_events.c.seq))
    chain = (AuditEvent(r.seq, r.at, r.recorded_at, r.actor, r.action, r.campaign, r.subject, r.before, r.after,
                        r.prev_hash, r.hash) for r in rows)
    return verify_chain(chain, (seq, digest)), seq


def record_check(conn: Connection, verdict: Verdict, up_to: int, at: dt.datetime, by: str) -> dict[str, Any]:
    """Keep the result of a full check (a short write, after the check itself ran in a read)."""
    doc = {"checked_at": at, "by": by, "up_to_seq": up_to, "events": verdict.count, "ok": verdict.ok,
           "first_bad": verdict.first_bad, "reason": verdict.reason or None}
    conn.execute(insert(audit_checks).values(**doc))
    return doc


def last_check(conn: Connection) -> dict[str, Any] | None:
    """The latest full check, or None when the chain was never fully verified: one row read."""
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
    total = conn.execute(select(func.count()).select_from(audit_events).where(*where)).scalar_one()
    rows = conn.execute(select(audit_events).where(*where).order_by(audit_events.c.seq.desc())
                        .limit(limit).offset(offset)).all()
    return int(total), list(rows)
