"""Filing, review and waiver of obligations; filings are versioned and never overwritten."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, insert, literal, select, update

from .. import names, rules
from ..errors import ConflictError, InvalidInput, NotFound
from ..spec import ArtifactKind
from . import audit
from .audit import Act
from .blobs import BlobStore, put_files
from .campaigns import CampaignCtx, first_reminder, load_ctx, resolve_unit, unit_id
from .outbox import cancel_for_closed
from .tables import filings, inserted_id, ledger_items, obligations, phases, requirements, reviews

OPEN = rules.OPEN_STATES


def resolve_artifact(ctx: CampaignCtx, text: str) -> str:
    """The key of the artifact kind a person means: its key or its unique title (问题整改清单); an unknown one
    names the closest kinds and lists them all, by key and title."""
    candidates = [(k, str(v.get("title", k))) for k, v in ctx.artifacts.items()]
    match = names.lookup(text, candidates)
    if match.key is not None:
        return match.key
    if match.ambiguous:
        raise InvalidInput(f"材料类型 '{text}' 对应多个材料：{names.describe(match.ambiguous)}；请改用代码 "
                           f"(the title '{text}' fits several artifact kinds; give one of their keys)", field="artifact")
    known = names.describe(candidates)
    raise NotFound(f"活动 '{ctx.key}' 没有材料类型 '{text}' (no such artifact kind)" + names.did_you_mean(match.suggestions)
                   + f"；可选 (known): {known}", field="artifact")


def _kind(ctx: CampaignCtx, artifact: str) -> ArtifactKind:
    kind = ctx.artifact(resolve_artifact(ctx, artifact))
    assert kind is not None  # resolve_artifact returns a key of ctx.artifacts
    return kind


def find_obligation(conn: Connection, ctx: CampaignCtx, unit: str, artifact: str, step: str | None,
                    states: Sequence[str] | None = None) -> Any:
    """The unit's obligation for the artifact: the earliest-due one still open, else the latest."""
    uid = unit_id(conn, ctx, unit)
    q = (select(obligations, requirements.c.step_key, requirements.c.signoff, requirements.c.policy)
         .join(requirements, requirements.c.id == obligations.c.requirement_id)
         .where(obligations.c.unit_id == uid, obligations.c.artifact == artifact)
         .order_by(obligations.c.due_at, obligations.c.id))
    if step:
        q = q.where(requirements.c.step_key == step)
    rows = conn.execute(q).all()
    if not rows:
        where = f" (步骤 step '{step}')" if step else ""
        raise NotFound(f"单位 '{unit}' 没有需报送的 '{artifact}'{where} (unit '{unit}' owes no '{artifact}'{where})",
                       field="step" if step else "artifact")
    if states is not None:
        matching = [r for r in rows if r.state in states]
        if not matching:
            raise ConflictError(f"单位 '{unit}' 的 '{artifact}' 当前状态为 {rows[-1].state}，不能执行此操作 "
                                f"(the obligation is {rows[-1].state}; this action needs {'/'.join(states)})")
        return matching[0]
    open_rows = [r for r in rows if not r.done]
    return open_rows[0] if open_rows else rows[-1]


def file_artifact(conn: Connection, store: BlobStore, key: str, unit: str, artifact: str, act: Act, *,
                  files: Sequence[Path | tuple[Path | bytes, str]] = (), rows_file: Path | None = None,
                  signed_by: str | None = None, step: str | None = None, rows_name: str | None = None) -> dict[str, Any]:
    """File an artifact for a unit: a new version, its files stored by hash, its rows checked."""
    prepared = prepare_filing(conn, key, unit, artifact, has_files=bool(files), rows_file=rows_file,
                              signed_by=signed_by, step=step, rows_name=rows_name)
    return record_filing(conn, prepared, put_files(store, files), act)


@dataclass(frozen=True)
class PreparedFiling:
    """A filing read and checked, not yet written: which obligation, and the rows as validated."""

    ctx: CampaignCtx
    kind: ArtifactKind
    unit: str
    artifact: str
    obligation_id: int
    rows: list[dict[str, Any]] | None
    signed_by: str | None


def prepare_filing(conn: Connection, key: str, unit: str, artifact: str, *, has_files: bool,
                   rows_file: Path | None = None, signed_by: str | None = None, step: str | None = None,
                   rows_name: str | None = None, figures: dict[str, Any] | None = None) -> PreparedFiling:
    """Everything a filing checks, reading only: a server does this before it takes the writers' lock.
    `figures`: a figures kind's one row as typed into a form (figure key -> text), instead of a rows file."""
    ctx = load_ctx(conn, key)
    artifact = resolve_artifact(ctx, artifact)
    kind = _kind(ctx, artifact)
    unit = resolve_unit(conn, ctx, unit)
    ob = find_obligation(conn, ctx, unit, artifact, step)
    if kind.acknowledge:  # 签收: no files, no rows; the one who acknowledged signs
        if has_files or rows_file is not None:
            raise InvalidInput(f"'{kind.title}' 只需签收，不附文件或表格 ('{artifact}' is acknowledged: no files, no rows)",
                               field="files")
        if not (signed_by or "").strip():
            raise InvalidInput(f"签收 '{kind.title}' 须写明签收人 (acknowledging '{artifact}' needs who acknowledged it)",
                               field="signed_by")
        return PreparedFiling(ctx, kind, unit, artifact, ob.id, None, signed_by)
    if ob.signoff and (not (signed_by or "").strip() or not has_files):
        raise InvalidInput(f"'{kind.title}' 须由单位负责人签字盖章：请写明签字人并附签字盖章的扫描件 "
                           f"('{artifact}' needs the unit head's signature: who signed, and the signed, stamped scan)",
                           field="signed_by")
    rows: list[dict[str, Any]] | None = None
    if kind.rows and rows_file is None and figures is not None and kind.figures is not None:
        from ..counts import figure_row_problems
        from ..rows import RowsInvalid, validate_rows

        rows = validate_rows([figures], kind, "表单 (form)")
        if problems := figure_row_problems(rows, kind):
            raise RowsInvalid("表单 (form)", problems, kind)
    elif kind.rows:
        if rows_file is None:
            raise InvalidInput(f"'{kind.title}' 需要逐行填报：请提供表格 (CSV/XLSX) "
                               f"('{artifact}' is filed as rows: give a CSV/XLSX table)", field="rows")
        from ..rows import read_rows

        rows = read_rows(rows_file, kind, rows_name)
        if kind.figures is not None:
            from ..counts import figure_row_problems
            from ..rows import RowsInvalid

            if problems := figure_row_problems(rows, kind):
                raise RowsInvalid(rows_name or str(rows_file), problems, kind)
    elif rows_file is not None:
        raise InvalidInput(f"'{kind.title}' 不按行填报，不能附表格 ('{artifact}' takes no rows)", field="rows")
    return PreparedFiling(ctx, kind, unit, artifact, ob.id, rows, signed_by)


def record_filing(conn: Connection, p: PreparedFiling, stored: list[dict[str, Any]], act: Act) -> dict[str, Any]:
    """Write a prepared filing: the version, the obligation's new state, the ledger items, the audit event.
    `stored` are its files already put by hash (blobs.put_files or store_files); their rows are recorded here."""
    from .blobs import record_blobs

    ctx, kind, rows = p.ctx, p.kind, p.rows
    # the obligation as it is now, inside the writing transaction (it may have changed since it was chosen)
    ob = conn.execute(select(obligations, requirements.c.step_key, requirements.c.policy)
                      .join(requirements, requirements.c.id == obligations.c.requirement_id)
                      .where(obligations.c.id == p.obligation_id)).one()
    record_blobs(conn, stored, act.at)
    version = (conn.execute(select(func.max(filings.c.version)).where(filings.c.obligation_id == ob.id)).scalar() or 0) + 1
    late = act.at > ob.due_at
    fid = inserted_id(conn.execute(insert(filings).values(
        obligation_id=ob.id, version=version, at=act.at, by=act.actor, signed_by=p.signed_by,
        files=stored, rows=rows, late=late)))
    done = rules.obligation_done("filed", ob.review)
    conn.execute(update(obligations).where(obligations.c.id == ob.id).values(
        state="filed", done=done, done_at=act.at if done else None, filed_at=act.at, late=late, next_remind_at=None))
    cancel_for_closed(conn, ctx.id, ob.id)
    items = _ledger(conn, ctx, ob, fid, rows, act) if kind.is_ledger_source() and rows else 0
    result = {"campaign": ctx.key, "unit": p.unit, "artifact": p.artifact, "step": ob.step_key, "version": version,
              "state": "filed", "late": late, "files": stored,
              "rows": len(rows) if rows is not None else None, "ledger_items": items, "signed_by": p.signed_by,
              "at": act.at.astimezone(ctx.tz).isoformat()}
    audit.append(conn, act, "filing.created", ctx.key, f"obligation:{p.unit}/{p.artifact}/{ob.step_key}",
                 {"state": rules.display_state(ob.state, ob.overdue_at)},
                 {"state": "filed", "version": version, "late": late, "signed_by": p.signed_by,
                  "files": [f["sha256"] for f in stored], "rows": result["rows"]})
    return result


def _ledger(conn: Connection, ctx: CampaignCtx, ob: Any, filing_id: int, rows: list[dict[str, Any]], act: Act) -> int:
    """Each row of an issue list becomes a ledger item; the previous version's items stop being current.

    Each item's deadline is also kept as an instant (end of the local day) for the overdue scan, and
    its history starts with a "created" event (the filing's own audit event covers the whole list).
    """
    from ..ledger import is_long_term
    from ..timeexpr import local_end_of_day
    from .tables import ledger_events

    # the replaced items are no longer reminded (their planned reminders are cancelled before sending)
    conn.execute(update(ledger_items).where(ledger_items.c.obligation_id == ob.id).values(current=False,
                                                                                         next_remind_at=None))
    values = []
    firsts: dict[dt.datetime, dt.datetime | None] = {}

    def first(due_at: dt.datetime) -> dt.datetime | None:  # computed once per deadline, not once per row
        if due_at not in firsts:
            firsts[due_at] = first_reminder(ctx, due_at, act.at)
        return firsts[due_at]

    for n, row in enumerate(rows, start=1):
        deadline = dt.date.fromisoformat(row["deadline"]) if row.get("deadline") else None
        due_at = local_end_of_day(deadline, ctx.tz) if deadline else None
        long_term = is_long_term(row.get("long_term"))
        values.append({
            "campaign_id": ctx.id, "unit_id": ob.unit_id, "obligation_id": ob.id, "filing_id": filing_id, "row_no": n,
            "problem": row["problem"], "category": row.get("category"), "measure": row.get("measure"),
            "mechanism": row.get("mechanism"),
            "leader": row.get("leader") or row.get("owner"), "office": row.get("office"),
            "deadline": deadline, "due_at": due_at, "long_term": long_term, "state": "open",
            "source": row.get("source") or "self_check", "current": True, "created_at": act.at, "updated_at": act.at,
            # an item's deadline is reminded like an obligation's (long-term items have none)
            "next_remind_at": first(due_at) if due_at and not long_term else None})
    if values:
        conn.execute(insert(ledger_items), values)
        conn.execute(insert(ledger_events).from_select(
            ["item_id", "at", "by", "action", "state_after", "note"],
            select(ledger_items.c.id, literal(act.at, ledger_events.c.at.type), literal(act.actor), literal("created"),
                   literal("open"), literal("由报送的问题清单生成 (from the filed issue list)"))
            .where(ledger_items.c.filing_id == filing_id)))
    return len(values)


def review(conn: Connection, key: str, unit: str, artifact: str, accept: bool, comment: str | None, act: Act,
           step: str | None = None) -> dict[str, Any]:
    """Accept or reject the latest filing; a rejection reopens the obligation and its reminders. A filing that
    needs no review (报备) can be rejected (退回), never accepted (`not_reviewed`)."""
    ctx = load_ctx(conn, key)
    artifact = resolve_artifact(ctx, artifact)
    if not accept and not (comment or "").strip():
        raise InvalidInput("退回必须写明理由 (a rejection needs a comment saying what to fix)", field="comment")
    unit = resolve_unit(conn, ctx, unit)
    ob = find_obligation(conn, ctx, unit, artifact, step, states=("filed",))
    if accept and not ob.review:
        raise not_reviewed(ctx, artifact)
    filing_id = conn.execute(select(filings.c.id).where(filings.c.obligation_id == ob.id)
                             .order_by(filings.c.version.desc()).limit(1)).scalar_one()
    decision = "accepted" if accept else "rejected"
    values: dict[str, Any] = {"state": decision, "done": accept, "done_at": act.at if accept else None}
    if not accept:
        started = conn.execute(select(phases.c.started_at).where(phases.c.id == ob.phase_id)).scalar()
        values.update(overdue_at=None, next_remind_at=first_reminder(ctx, ob.due_at, act.at, ob.policy) if started else None)
    conn.execute(update(obligations).where(obligations.c.id == ob.id).values(**values))
    conn.execute(insert(reviews).values(obligation_id=ob.id, filing_id=filing_id, decision=decision, comment=comment,
                                        by=act.actor, at=act.at))
    from .ledger import withdraw_items

    # a rejected issue list's items leave the ledger until the unit files again (ledger.withdraw_items)
    withdrawn = 0 if accept else withdraw_items(conn, ctx, ob.id, act)
    audit.append(conn, act, f"filing.{decision}", key, f"obligation:{unit}/{artifact}/{ob.step_key}",
                 {"state": "filed"}, {"state": decision, "comment": comment,
                                      **({"ledger_items_withdrawn": withdrawn} if withdrawn else {})})
    return {"campaign": key, "unit": unit, "artifact": artifact, "state": decision, "comment": comment,
            **({"ledger_items_withdrawn": withdrawn} if withdrawn else {}), "at": act.at.astimezone(ctx.tz).isoformat()}


def not_reviewed(ctx: CampaignCtx, artifact: str) -> InvalidInput:
    """报备 is not 审核: a filing whose requirement asks for no review is done once filed, so there is nothing to
    accept; it can still be returned (退回) when it is wrong (unsigned, the wrong form), and is then owed again."""
    title = str(ctx.artifacts.get(artifact, {}).get("title", artifact))
    return InvalidInput(f"“{title}”是报备材料，报送即完成，无需审核通过；材料有误时可以退回 "
                        f"('{artifact}' is filed for the record (报备): filing completes it and there is nothing to "
                        f"accept; a wrong filing can be returned)", field="decision")


def waive(conn: Connection, key: str, unit: str, artifact: str, reason: str, act: Act,
          step: str | None = None) -> dict[str, Any]:
    """Excuse a unit from an open obligation (特批), audited with the reason."""
    if not (reason or "").strip():
        raise InvalidInput("免报必须写明理由 (a waiver needs a reason)", field="reason")
    ctx = load_ctx(conn, key)
    artifact = resolve_artifact(ctx, artifact)
    unit = resolve_unit(conn, ctx, unit)
    ob = find_obligation(conn, ctx, unit, artifact, step, states=OPEN)
    conn.execute(update(obligations).where(obligations.c.id == ob.id).values(
        state="waived", done=True, done_at=act.at, waived_reason=reason, next_remind_at=None))
    cancel_for_closed(conn, ctx.id, ob.id)
    audit.append(conn, act, "obligation.waived", key, f"obligation:{unit}/{artifact}/{ob.step_key}",
                 {"state": rules.display_state(ob.state, ob.overdue_at)}, {"state": "waived", "reason": reason})
    return {"campaign": key, "unit": unit, "artifact": artifact, "state": "waived", "reason": reason,
            "at": act.at.astimezone(ctx.tz).isoformat()}
