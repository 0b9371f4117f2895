"""The rectification ledger in the database: item changes, supervision findings, histories, and the
ledger and evaluation conditions of phase gates (the rules are in `..ledger`). Every change appends a
`ledger_events` row (the item's history) and an audit event (the chain) in the same transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, case, false, func, insert, not_, or_, select, update

from .. import ledger as rules
from ..counts import voters
from ..errors import InvalidInput, NotFound
from ..spec import EvaluationGate, Gate, LedgerGate
from ..specfile import parse_yaml
from ..timeexpr import local_end_of_day
from . import audit
from .audit import Act
from .blobs import BlobStore, store_files
from .campaigns import CampaignCtx, first_reminder, load_ctx, resolve_unit, unit_id
from .outbox import cancel_for_closed
from .predicates import ledger_item_overdue
from .tables import campaign_specs, campaigns, filings, ledger_events, ledger_items, obligations, units


def _item(conn: Connection, item_id: int) -> Any:
    row = conn.execute(select(ledger_items, units.c.key.label("unit_key"), campaigns.c.key.label("campaign_key"))
                       .join(units, units.c.id == ledger_items.c.unit_id)
                       .join(campaigns, campaigns.c.id == ledger_items.c.campaign_id)
                       .where(ledger_items.c.id == item_id)).first()
    if row is None:
        raise NotFound(f"台账条目 #{item_id} 不存在 (no ledger item #{item_id})")
    return row


def item_owner(conn: Connection, item_id: int) -> tuple[str, str]:
    """The keys of an item's campaign and unit (NotFound when there is no such item): what a scope check needs."""
    row = _item(conn, item_id)
    return row.campaign_key, row.unit_key


def item_ctx(conn: Connection, item_id: int) -> CampaignCtx:
    """The campaign of an item: its time zone reads the command's --at."""
    return load_ctx(conn, _item(conn, item_id).campaign_key)


def _evidence_since_reopen(conn: Connection, item_id: int) -> int:
    """Evidence files recorded since the item was last sent back (or since it was created)."""
    last = conn.execute(select(func.max(ledger_events.c.id)).where(
        ledger_events.c.item_id == item_id, ledger_events.c.action == "reopened")).scalar() or 0
    found = conn.execute(select(ledger_events.c.evidence).where(
        ledger_events.c.item_id == item_id, ledger_events.c.id > last, ledger_events.c.evidence.is_not(None))).scalars()
    return sum(len(e or []) for e in found)


def _record(conn: Connection, ctx: CampaignCtx, item: Any, action: str, state: str, note: str | None,
            evidence: list[dict[str, Any]], act: Act, **values: Any) -> dict[str, Any]:
    conn.execute(update(ledger_items).where(ledger_items.c.id == item.id).values(state=state, updated_at=act.at, **values))
    conn.execute(insert(ledger_events).values(item_id=item.id, at=act.at, by=act.actor, action=action,
                                              state_before=item.state, state_after=state, note=note,
                                              evidence=evidence or None))
    audit.append(conn, act, f"ledger.{action}", ctx.key, f"ledger:{item.unit_key}#{item.id}", {"state": item.state},
                 {"state": state, "note": note, "evidence": [e["sha256"] for e in evidence],
                  **{k: v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v for k, v in values.items()}})
    return {"id": item.id, "campaign": ctx.key, "unit": item.unit_key, "problem": item.problem, "action": action,
            "state_before": item.state, "state": state, "note": note, "evidence": evidence, "by": act.actor,
            "at": act.at.astimezone(ctx.tz).isoformat()}


def _reminders(conn: Connection, ctx: CampaignCtx, item_id: int, at: dt.datetime) -> None:
    """An item's deadline is reminded while the unit owes work on it (like an obligation's due instant):
    the first reminder after `at` when it is owed, else none, and its planned reminders cancelled."""
    item = conn.execute(select(ledger_items).where(ledger_items.c.id == item_id)).one()
    owed = item.current and item.state in rules.OWED and not item.long_term and item.due_at is not None
    conn.execute(update(ledger_items).where(ledger_items.c.id == item_id).values(
        next_remind_at=first_reminder(ctx, item.due_at, at) if owed else None))
    if not owed:
        cancel_for_closed(conn, ctx.id, item_id=item_id)


WITHDRAWN = "withdrawn"  # the event of an item whose issue list was rejected (退回): it leaves the ledger
WITHDRAWN_NOTE = "所属问题清单被退回，待单位重新报送 (the issue list was rejected; it returns when the unit files it again)"


def withdraw_items(conn: Connection, ctx: CampaignCtx, obligation_id: int, act: Act) -> int:
    """A rejected issue list's items belong to a rejected version: they stop being current (out of the ledger,
    its counts and gate, the board and reminders) until the unit files again, when the new list's items
    replace them as for any refiling. Each item's history records why (a `withdrawn` event)."""
    ids = conn.execute(select(ledger_items.c.id, ledger_items.c.state).where(
        ledger_items.c.obligation_id == obligation_id, ledger_items.c.current.is_(True))).all()
    if not ids:
        return 0
    conn.execute(update(ledger_items).where(ledger_items.c.id.in_([i.id for i in ids])).values(
        current=False, next_remind_at=None, updated_at=act.at))
    conn.execute(insert(ledger_events), [
        {"item_id": i.id, "at": act.at, "by": act.actor, "action": WITHDRAWN, "state_before": i.state,
         "state_after": i.state, "note": WITHDRAWN_NOTE} for i in ids])
    for i in ids:  # their planned reminders are cancelled before sending
        cancel_for_closed(conn, ctx.id, item_id=i.id)
    return len(ids)


def _changeable(conn: Connection, item_id: int, act: Act) -> tuple[Any, CampaignCtx]:
    item = _item(conn, item_id)
    if not item.current:
        last = conn.execute(select(ledger_events.c.action).where(ledger_events.c.item_id == item_id)
                            .order_by(ledger_events.c.id.desc()).limit(1)).scalar()
        if last == WITHDRAWN:
            raise InvalidInput(f"台账条目 #{item_id} 所属的问题清单已被退回，请等待单位重新报送 "
                               f"(the item's issue list was rejected; its items return when the unit files it again)")
        raise InvalidInput(f"台账条目 #{item_id} 已被新版问题清单取代 (the item was replaced by a newer issue list)")
    rules.check_instant(item.updated_at or item.created_at, act.at)
    return item, load_ctx(conn, item.campaign_key)


def update_item(conn: Connection, blobstore: BlobStore, item_id: int, state: str, note: str | None,
                evidence_paths: Sequence[Path | tuple[Path | bytes, str]], act: Act) -> dict[str, Any]:
    """A unit reports progress (in_progress, with a note) or the fix (rectified, with evidence files)."""
    if state not in rules.UPDATE_STATES:
        raise InvalidInput(f"状态应为 in_progress 或 rectified (use in_progress or rectified), got '{state}'",
                           field="state")
    item, ctx = _changeable(conn, item_id, act)
    action = "progress" if state == "in_progress" else "rectified"
    note = (note or "").strip() or None
    after = rules.transition(item.state, action, long_term=item.long_term, note=note, new_evidence=len(evidence_paths))
    evidence = store_files(conn, blobstore, evidence_paths, act.at)  # only once the change is allowed
    done = _record(conn, ctx, item, action, after, note, evidence, act)
    if after not in rules.OWED:  # rectified: the item waits on the supervisor, its reminders stop
        _reminders(conn, ctx, item.id, act.at)
    return done


def verify_item(conn: Connection, item_id: int, close: bool, comment: str | None, act: Act,
                deadline: dt.date | None = None) -> dict[str, Any]:
    """A supervisor closes (销号) a rectified item or sends it back; a reopen may set a new deadline."""
    item, ctx = _changeable(conn, item_id, act)
    action = "closed" if close else "reopened"
    comment = (comment or "").strip() or None
    after = rules.transition(item.state, action, long_term=item.long_term, comment=comment,
                             evidence_since_reopen=_evidence_since_reopen(conn, item.id) if close else 0)
    values: dict[str, Any] = {"closed_at": act.at if close else None}
    if deadline is not None and not close:
        values.update(deadline=deadline, due_at=local_end_of_day(deadline, ctx.tz))
    done = _record(conn, ctx, item, action, after, comment, [], act, **values)
    if deadline is not None and not close:  # a new deadline: overdue (and its mark) start afresh
        conn.execute(update(ledger_items).where(ledger_items.c.id == item.id).values(overdue_at=None))
    _reminders(conn, ctx, item.id, act.at)  # closed: none; reopened: reminded again
    return done


def record_finding(conn: Connection, campaign: str, unit: str, problem: str, deadline: dt.date | None, act: Act, *,
                   category: str | None = None, measure: str | None = None, leader: str | None = None,
                   office: str | None = None, long_term: bool = False, source: str = "supervision",
                   mechanism: str | None = None) -> dict[str, Any]:
    """A supervision finding (督查, 明查暗访) becomes a ledger item of the unit, open, with its deadline."""
    ctx = load_ctx(conn, campaign)
    if not (problem or "").strip():
        raise InvalidInput("请写明问题 (a finding needs its problem)", field="problem")
    if deadline is None and not long_term:
        raise InvalidInput("请写明整改时限，或标记为长期坚持 (give a deadline, or mark the item long-term)",
                           field="deadline")
    due_at = local_end_of_day(deadline, ctx.tz) if deadline else None
    if due_at is not None and due_at < act.at:
        raise InvalidInput(f"整改时限 {deadline} 早于发现时刻 (the deadline is before the finding)",
                           field="deadline")
    unit = resolve_unit(conn, ctx, unit)
    uid = unit_id(conn, ctx, unit)
    row_no = conn.execute(select(func.coalesce(func.max(ledger_items.c.row_no), 0) + 1).where(
        ledger_items.c.campaign_id == ctx.id, ledger_items.c.unit_id == uid, ledger_items.c.obligation_id.is_(None))).scalar()
    item_id = conn.execute(insert(ledger_items).values(
        campaign_id=ctx.id, unit_id=uid, row_no=row_no, problem=problem.strip(), category=category, measure=measure,
        mechanism=mechanism, leader=leader, office=office, deadline=deadline, due_at=due_at, long_term=long_term, state="open",
        source=source, current=True, created_at=act.at, updated_at=act.at,
        next_remind_at=first_reminder(ctx, due_at, act.at) if due_at and not long_term else None)
        .returning(ledger_items.c.id)).scalar_one()
    conn.execute(insert(ledger_events).values(item_id=item_id, at=act.at, by=act.actor, action="created",
                                              state_after="open", note=f"督查发现 (finding, {source})"))
    doc = {"problem": problem.strip(), "category": category, "measure": measure, "leader": leader, "office": office,
           "deadline": deadline.isoformat() if deadline else None, "long_term": long_term, "state": "open", "source": source,
           "mechanism": mechanism}
    audit.append(conn, act, "ledger.created", campaign, f"ledger:{unit}#{item_id}", None, doc)
    return {"id": item_id, "campaign": campaign, "unit": unit, **doc, "at": act.at.astimezone(ctx.tz).isoformat()}


def histories(conn: Connection, item_ids: Iterable[int], ctx: CampaignCtx) -> dict[int, list[dict[str, Any]]]:
    """Each item's events, oldest first, with instants in the campaign's time zone."""
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in item_ids}
    ids = list(out)
    for start in range(0, len(ids), 1000):  # bounded IN lists
        for e in conn.execute(select(ledger_events).where(ledger_events.c.item_id.in_(ids[start:start + 1000]))
                              .order_by(ledger_events.c.item_id, ledger_events.c.id)).all():
            out[e.item_id].append({"at": e.at.astimezone(ctx.tz).isoformat(), "by": e.by, "action": e.action,
                                   "state_before": e.state_before, "state_after": e.state_after, "note": e.note,
                                   "evidence": e.evidence or []})
    return out


def item_history(conn: Connection, item_id: int) -> list[dict[str, Any]]:
    return histories(conn, [item_id], item_ctx(conn, item_id))[item_id]


# --- the ledger's list (filtered and paged here, in SQL) and one item's whole record ---

def _iso(value: dt.datetime | None, ctx: CampaignCtx) -> str | None:
    return value.astimezone(ctx.tz).isoformat() if value else None


def _where(ctx: CampaignCtx, at: dt.datetime | None, seen: Collection[str] | None, unit: str | None, state: str | None,
           category: str | None, source: str | None, overdue: bool | None) -> list[Any]:
    i = ledger_items.c
    where: list[Any] = [i.campaign_id == ctx.id, i.current.is_(True)]
    keys = ([unit] if unit else []) if seen is None else [u for u in sorted(seen) if not unit or u == unit]
    if seen is not None or unit:  # the units' ids by key: the counts need no join
        where.append(i.unit_id.in_(select(units.c.id).where(units.c.campaign_id == ctx.id, units.c.key.in_(keys)))
                     if keys else false())
    if state:
        where.append(i.state == state)
    if category:
        where.append(i.category == category)
    if source:
        where.append(i.source == source)
    if overdue is not None and at is not None:
        where.append(ledger_item_overdue(at) if overdue else not_(ledger_item_overdue(at)))
    return where


def item_list(conn: Connection, ctx: CampaignCtx, at: dt.datetime, *, seen: Collection[str] | None = None,
              unit: str | None = None, state: str | None = None, category: str | None = None,
              source: str | None = None, overdue: bool | None = None, offset: int = 0,
              limit: int = 50) -> dict[str, Any]:
    """One page of the current items of the campaign (of the units `seen`, None: all) that pass the filters,
    owed work first, then by deadline; the number of such items in all (`total`), and per state and overdue
    under the same filters but the state (the counts above a list, each a filter of its own). Compact rows:
    no history, no evidence (an item's page has them)."""
    i = ledger_items.c
    base = _where(ctx, at, seen, unit, None, category, source, overdue)
    late = case((ledger_item_overdue(at), 1), else_=0)
    by_state: dict[str, int] = dict.fromkeys(rules.STATES, 0)
    overdue_n = 0
    for st, n, o in conn.execute(select(i.state, func.count(), func.sum(late)).where(*base).group_by(i.state)).all():
        by_state[st] = int(n)
        overdue_n += int(o or 0)
    where = base + ([i.state == state] if state else [])
    total = sum(by_state.values()) if not state else by_state.get(state, 0)
    rank = case((i.state.in_(rules.OWED), 0), (i.state == "rectified", 1), else_=2)
    rows = conn.execute(
        select(i.id, i.problem, i.category, i.mechanism, i.deadline, i.due_at, i.long_term, i.state, i.source, i.updated_at,
               i.created_at, units.c.key.label("unit_key"), late.label("late"))
        .join(units, units.c.id == i.unit_id).where(*where)
        .order_by(rank, case((i.due_at.is_(None), 1), else_=0), i.due_at, i.id)
        .offset(offset).limit(limit)).all()
    today = at.astimezone(ctx.tz).date()
    items = [{"id": r.id, "unit": r.unit_key, "problem": r.problem, "category": r.category, "mechanism": r.mechanism,
              "deadline": r.deadline.isoformat() if r.deadline else None, "long_term": bool(r.long_term),
              "state": r.state, "source": r.source, "overdue": bool(r.late),
              "overdue_days": max((today - r.deadline).days, 1) if r.late and r.deadline else 0,
              "updated_at": _iso(r.updated_at or r.created_at, ctx)} for r in rows]
    return {"items": items, "total": total, "by_state": by_state, "overdue": overdue_n}


def item_facets(conn: Connection, ctx: CampaignCtx, seen: Collection[str] | None = None) -> dict[str, list[str]]:
    """The categories and sources the current items (of the units `seen`) have: the choices of the filters."""
    i = ledger_items.c
    pairs = conn.execute(select(i.category, i.source).where(*_where(ctx, None, seen, None, None, None, None, None))
                         .group_by(i.category, i.source)).all()  # one pass for both
    return {"categories": sorted({c for c, _ in pairs if c}), "sources": sorted({s for _, s in pairs if s})}


def item_doc(conn: Connection, item_id: int, at: dt.datetime) -> dict[str, Any]:
    """One item whole (四个明确: leader and office, measure, deadline or long-term, mechanism), whether it is
    current and overdue at `at`, its history oldest first and its evidence files in order (the n of
    `evidence/{n}`)."""
    r = _item(conn, item_id)
    ctx = load_ctx(conn, r.campaign_key)
    history = histories(conn, [item_id], ctx)[item_id]
    late = rules.is_overdue(r.state, r.due_at, at, bool(r.long_term)) and bool(r.current)
    today = at.astimezone(ctx.tz).date()
    return {"id": r.id, "campaign": r.campaign_key, "unit": r.unit_key, "problem": r.problem, "category": r.category,
            "measure": r.measure, "leader": r.leader, "office": r.office, "mechanism": r.mechanism,
            "deadline": r.deadline.isoformat() if r.deadline else None, "due": _iso(r.due_at, ctx),
            "long_term": bool(r.long_term), "state": r.state, "source": r.source, "current": bool(r.current),
            "overdue": late, "overdue_days": max((today - r.deadline).days, 1) if late and r.deadline else 0,
            "created_at": _iso(r.created_at, ctx), "updated_at": _iso(r.updated_at, ctx),
            "closed_at": _iso(r.closed_at, ctx), "history": history,
            "evidence": [{**f, "at": h["at"], "by": h["by"]} for h in history for f in h["evidence"]]}


# --- gate conditions over the ledger and evaluations ---

@lru_cache(maxsize=64)
def _gates(text: str) -> dict[str, Gate]:
    """The phases' gates of a stored spec (already validated when it was stored); parsed once per text."""
    data, _ = parse_yaml(text, "<spec>")
    return {str(p["key"]): Gate.model_validate(p["gate"]) for p in data.get("phases", [])
            if isinstance(p, dict) and p.get("gate")}


def phase_gate(conn: Connection, campaign_id: int, phase_key: str) -> Gate | None:
    text = conn.execute(select(campaign_specs.c.text).where(campaign_specs.c.campaign_id == campaign_id)
                        .order_by(campaign_specs.c.version.desc()).limit(1)).scalar()
    return _gates(text).get(phase_key) if text else None


def _short(failing: list[Any]) -> list[str]:
    return [f"{len(failing)} 个单位未达到 ({len(failing)} unit(s) short)"] if failing else []


def _ledger_detail(conn: Connection, ctx: CampaignCtx, cond: LedgerGate, at: dt.datetime) -> dict[str, Any]:
    i = ledger_items.c
    overdue = case((ledger_item_overdue(at), 1), else_=0)
    rows = conn.execute(select(units.c.key, i.state, func.count(), func.sum(overdue))
                        .join(units, units.c.id == i.unit_id)
                        .where(i.campaign_id == ctx.id, i.current.is_(True), units.c.active.is_(True))
                        .group_by(units.c.key, i.state)).all()
    per_unit: dict[str, dict[str, int]] = {u: {} for u, *_ in rows}
    late = dict.fromkeys(per_unit, 0)
    for unit, state, n, o in rows:
        per_unit[unit][state], late[unit] = n, late[unit] + int(o or 0)
    total = rules.LedgerCounts({s: sum(u.get(s, 0) for u in per_unit.values()) for s in rules.STATES}, sum(late.values()))
    share = rules.parse_share(cond.closed_at_least) if cond.closed_at_least is not None else None

    def check(c: rules.LedgerCounts) -> list[str]:
        return rules.ledger_condition(c, share, cond.rest_in_progress, cond.none_overdue)

    failing = ([{"unit": u, "why": w} for u in sorted(per_unit)
                if (w := check(rules.LedgerCounts(per_unit[u], late[u])))] if cond.scope == "unit" else [])
    why = check(total) if cond.scope == "campaign" else _short(failing)
    return {"met": not why, "scope": cond.scope, "counts": {**dict(total.by_state), "total": total.total,
            "overdue": total.overdue}, "closed_share": rules.percent(total.closed_share()), "why": why, "failing": failing}


def _evaluation_detail(conn: Connection, ctx: CampaignCtx, phase: Any, cond: EvaluationGate) -> dict[str, Any]:
    kind = ctx.artifact(cond.artifact)
    if kind is None or kind.tally is None:
        return {"met": False, "artifact": cond.artifact, "why": [f"'{cond.artifact}' 不是测评材料 (not an evaluation kind)"]}
    o = obligations.c
    obs = conn.execute(select(o.id, o.phase_id, o.done, units.c.key).join(units, units.c.id == o.unit_id).where(
        o.campaign_id == ctx.id, o.artifact == cond.artifact, o.state != "waived")).all()
    if any(r.phase_id == phase.id for r in obs):  # the phase's own vote, not an earlier one of the same kind
        obs = [r for r in obs if r.phase_id == phase.id]
    done = {r.id: r.key for r in obs if r.done}
    latest = select(filings.c.obligation_id, func.max(filings.c.version).label("v")).where(
        filings.c.obligation_id.in_(list(done) or [0])).group_by(filings.c.obligation_id).subquery()
    tallies: dict[str, rules.Tally] = {}
    ballots: dict[str, int] = {}  # 参评人数 per unit (counts.voters)
    since = None
    for ob_id, rows, at in conn.execute(select(filings.c.obligation_id, filings.c.rows, filings.c.at).join(
            latest, (latest.c.obligation_id == filings.c.obligation_id) & (latest.c.v == filings.c.version))).all():
        t = rules.tally_rows(rows or [], kind.tally_choices(), kind.tally.positive, kind.tally.eligible)
        tallies[done[ob_id]] = tallies[done[ob_id]] + t if done[ob_id] in tallies else t
        ballots[done[ob_id]] = ballots.get(done[ob_id], 0) + voters(rows or [], kind.tally_choices())
        since = at if since is None else max(since, at)
    ratio, resp = (rules.parse_share(v) if v is not None else None for v in (cond.min_ratio, cond.min_response))
    total = sum(tallies.values(), rules.Tally(0, 0, 0 if kind.tally.eligible else None))
    unit_why = {u: rules.evaluation_condition(tallies[u], ratio, resp) + too_few(tallies[u], ballots[u], cond.min_voters)
                if u in tallies else ["未报测评结果 (no result filed)"]
                for u in sorted({r.key for r in obs})} if cond.scope == "unit" else {}
    failing = [{"unit": u, "why": w, **(tallies[u].describe() if u in tallies else {}), "voters": ballots.get(u, 0)}
               for u, w in unit_why.items() if w]
    n = sum(ballots.values())
    why = _short(failing) if cond.scope == "unit" else \
        rules.evaluation_condition(total, ratio, resp) + too_few(total, n, cond.min_voters)
    described = total.describe()
    # the ratio beside how many voted: 满意率 100% of 45 voters (seed 004's vote) is what the office reports
    described["text"] += f"，参评 {n} 人" + (f"（须不少于 {cond.min_voters} 人）" if cond.min_voters else "") + \
        f" ({n} voters" + (f", at least {cond.min_voters} needed)" if cond.min_voters else ")")
    return {"met": not why, "artifact": cond.artifact, "scope": cond.scope, **described, "voters": n,
            "min_voters": cond.min_voters, "why": why, "failing": failing, "since": since}


def too_few(tally: rules.Tally, n: int, at_least: int | None) -> list[str]:
    """Why a vote counts too few voters (none when it has no votes yet: evaluation_condition says so)."""
    if at_least is None or tally.responses == 0 or n >= at_least:
        return []
    return [f"参评 {n} 人，少于 {at_least} 人 ({n} voters, fewer than {at_least})"]


def ledger_gate_met(conn: Connection, ctx: CampaignCtx, phase_row: Any, at: dt.datetime) -> tuple[bool, dict[str, Any]]:
    """The ledger and evaluation conditions of the phase's gate at `at`; (True, {}) when it declares none.

    `detail["since"]` is the last state change of the ledger (or evaluation filing) before `at`: the
    conditions have held at least since then, which is when a when_ready phase completes.
    """
    gate = phase_gate(conn, ctx.id, phase_row.key)
    if gate is None or (gate.ledger is None and gate.evaluation is None):
        return True, {}
    detail: dict[str, Any] = {}
    if gate.ledger is not None:
        detail["ledger"] = _ledger_detail(conn, ctx, gate.ledger, at)
    if gate.evaluation is not None:
        detail["evaluation"] = _evaluation_detail(conn, ctx, phase_row, gate.evaluation)
    met = all(d["met"] for d in detail.values())
    if met:
        e = ledger_events.c
        changed = conn.execute(select(func.max(e.at)).join(ledger_items, ledger_items.c.id == e.item_id).where(
            ledger_items.c.campaign_id == ctx.id, ledger_items.c.current.is_(True), e.at <= at,
            or_(e.state_before.is_(None), e.state_before != e.state_after))).scalar() if gate.ledger else None
        instants = [v.replace(tzinfo=v.tzinfo or dt.UTC) for v in
                    (changed, detail.get("evaluation", {}).get("since")) if v is not None]
        detail["since"] = max(instants) if instants else None
    detail.get("evaluation", {}).pop("since", None)
    detail["met"] = met
    return met, detail
