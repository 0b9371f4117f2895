"""The audit log and the public board: reading the log, verifying its chain, and the figures anyone may see.

A view of the log re-hashes nothing: the whole chain is verified on demand (`verify`, kept in
audit_checks and shown with the log) and daily by the scheduler of `serve` (flows/audit_check.py).

`verify` also checks the chain against its latest anchor outside the database (the data directory's
`audit-anchors.jsonl`, campaign_model.store.anchors) and an anchor the operator gives (SEQ:HASH printed
on a report or notice), and anchors the head it verified. Each report anchors the head it prints.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from .services import Services

UTC = ZoneInfo("UTC")
DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")


def events(svc: Services, campaign: str | None = None) -> list[dict[str, Any]]:
    """The whole log, oldest first, optionally of one campaign; instants in the campaign's time zone."""
    from campaign_model.store import audit

    with svc.read() as conn:
        rows = audit.log(conn, campaign)
        zones = {key: ctx.tz for key, ctx in _ctxs(conn, {e.campaign for e in rows if e.campaign}).items()}

    def local(e: Any, value: Any) -> str:
        # an unreadable event (tampered with) shows what is stored
        if not isinstance(value, dt.datetime):
            return str(value)
        return value.astimezone(zones.get(e.campaign or "", UTC)).isoformat()

    return [{"seq": e.seq, "at": local(e, e.at), "recorded_at": local(e, e.recorded_at), "actor": e.actor,
             "action": e.action, "campaign": e.campaign, "subject": e.subject, "before": e.before, "after": e.after,
             "hash": e.hash, "unreadable": e.unreadable} for e in rows]


def search(svc: Services, *, campaign: str | None = None, text: str | None = None, limit: int = 100,
           offset: int = 0) -> dict[str, Any]:
    """One page of the log, newest first, optionally of one campaign and containing `text`; with the total."""
    from campaign_model.store import audit

    with svc.read() as conn:
        total, rows = audit.search(conn, campaign, text, limit, offset)
    return {"total": total, "events": [_event(r, None) for r in rows]}


def browse(svc: Services, *, campaign: str | None = None, text: str | None = None, limit: int = 50,
           offset: int = 0) -> dict[str, Any]:
    """A page of the log as people read it: instants in each campaign's zone, who is who (units by key,
    accounts), the campaigns' titles, and the latest full verification with how many events came since."""
    from campaign_model.store import audit
    from campaign_model.store.accounts import list_users
    from campaign_model.store.campaigns import unit_rows
    from campaign_model.store.queries import campaign_list

    with svc.read() as conn:
        check, head = audit.last_check(conn), audit.head_seq(conn)
        total, rows = audit.search(conn, campaign, text, limit, offset)
        ctxs = _ctxs(conn, {r.campaign for r in rows if r.campaign})
        units = {u.key: u.name for ctx in ctxs.values() for u in unit_rows(conn, ctx)}
        users = list_users(conn)
        campaigns = campaign_list(conn)
    if check is not None and check["checked_at"] is None:  # an audit table is gone: the verdict, never kept
        check = {**check, "at": None, "newer": 0}
    elif check is not None:
        zone = next(iter(ctxs.values())).tz if ctxs else DEFAULT_ZONE
        check = {**check, "at": check["checked_at"].astimezone(zone).isoformat(),
                 "checked_at": check["checked_at"].isoformat(), "newer": max(head - check["up_to_seq"], 0)}
    events = [_event(r, ctxs[r.campaign].tz if r.campaign in ctxs else UTC) for r in rows]
    return {"total": total, "events": events, "head": head, "check": check, "units": units, "users": users,
            "campaigns": campaigns}


def verify(svc: Services, by: str, anchor: str | None = None) -> dict[str, Any]:
    """Verify the whole chain now and keep the result, recorded as checked by `by`: against the latest
    anchor of the data directory and `anchor` (SEQ:HASH from a report) when given; a chain that verifies
    is anchored there in turn."""
    from campaign_model.audit import parse_anchor
    from campaign_model.errors import InvalidInput
    from campaign_model.store import audit

    given = []
    if anchor is not None:
        try:
            given.append(parse_anchor(anchor))
        except ValueError as exc:
            raise InvalidInput(f"--anchor: 无法识别 '{anchor[:80]}'，{exc}", field="anchor") from None
    anchors = _anchors(svc)
    latest = anchors.latest()
    # the re-hashing reads; only the result takes the writers' lock
    with svc.read() as conn:
        verdict, up_to = audit.full_check(conn, [*given, *([latest] if latest else [])])
    checked_at = svc.now()
    with svc.write() as conn:
        doc = audit.record_check(conn, verdict, up_to, checked_at, by)
    if verdict.ok and verdict.head is not None:
        _anchor(anchors, verdict.head, checked_at, "verify")
    checked = [{"seq": a.seq, "hash": a.hash, "at": a.at, "source": a.source} for a in (*given, *([latest] if latest else []))]
    return {**doc, "checked_at": doc["checked_at"].isoformat(), "anchors": checked}


def _anchors(svc: Services) -> Any:
    from campaign_model.store.anchors import AnchorFile

    return AnchorFile(svc.settings.home, svc.engine.url.render_as_string(hide_password=True))


def _anchor(anchors: Any, head: tuple[int, str], at: dt.datetime, source: str) -> None:
    try:
        anchors.append(head[0], head[1], at.astimezone(UTC).isoformat(timespec="seconds"), source)
    except OSError:  # a read-only data directory: the check stands, it only leaves no anchor
        pass


def anchor_head(svc: Services, head: tuple[int, str], source: str) -> None:
    """Keep `head` (printed on a report or notice just written) as an anchor in the data directory."""
    _anchor(_anchors(svc), head, svc.now(), source)


def public_board(svc: Services, campaign: str, *, at: dt.datetime | None = None) -> dict[str, Any]:
    """The public board's figures at `at` (default: now): aggregates only, nothing a unit filed, no person."""
    from campaign_model.store.board import public_board as board

    with svc.read() as conn:
        return board(conn, campaign, at or svc.now())


def _event(r: Any, zone: ZoneInfo | None) -> dict[str, Any]:
    """An event as data; its instants in `zone`, or as stored (UTC) without one."""

    def shown(value: Any) -> str:
        if not isinstance(value, dt.datetime):  # an unreadable (tampered) event: what is stored
            return str(value)
        return (value.astimezone(zone) if zone else value).isoformat()

    return {"seq": r.seq, "at": shown(r.at), "recorded_at": shown(r.recorded_at), "actor": r.actor, "action": r.action,
            "campaign": r.campaign, "subject": r.subject, "before": r.before, "after": r.after, "hash": r.hash,
            "unreadable": r.unreadable}


def _ctxs(conn: Connection, keys: set[str]) -> dict[str, Any]:
    """The campaigns named by events, for their time zone and units."""
    from campaign_model.errors import NotFound
    from campaign_model.store.campaigns import load_ctx

    ctxs = {}
    for key in keys:
        try:
            ctxs[key] = load_ctx(conn, key)
        except NotFound:  # an event may name a campaign that was never stored (a refused command)
            continue
    return ctxs
