"""The review queue (待审核) and what a reviewer reads before deciding: which filings wait for a decision,
the versions of one obligation and what changed between the latest two, and the decision on one filing.

A filing waits for review when it is the latest version of an obligation in state `filed` whose
requirement asks for review (`obligations.review`). A decision is taken on that filing only: once a
newer version is filed, or someone else has decided, the older page's form is refused, never applied
to another version.

报备 is not 审核: a filing whose requirement asks for no review is done once filed and never waits here; the
office may still return it (退回: unsigned, the wrong form), on its page, with `campaign review --reject` or the
API alike, and it is then owed again. Accepting one is refused everywhere (`filings.not_reviewed`).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import aliased

from ..errors import ConflictError, InvalidInput, NotFound
from .audit import Act
from .campaigns import CampaignCtx, resolve_unit
from .filings import find_obligation, not_reviewed, resolve_artifact
from .filings import review as review_obligation
from .tables import filings, obligations, phases, requirements, reviews, units

QUEUE_LIMIT = 2000  # a queue longer than this is shown in part (oldest first), with the total


def _iso(value: Any, ctx: CampaignCtx) -> str | None:
    return value.astimezone(ctx.tz).isoformat() if value else None


def _latest_version() -> Any:
    newer = aliased(filings)
    return (select(func.max(newer.c.version)).where(newer.c.obligation_id == filings.c.obligation_id)
            .scalar_subquery())


def _waiting_query(ctx: CampaignCtx) -> Any:
    return (select(filings.c.id, filings.c.version, filings.c.at, filings.c.by, filings.c.late, filings.c.signed_by,
                   obligations.c.id.label("obligation_id"), obligations.c.artifact, obligations.c.due_at,
                   units.c.key.label("unit"), units.c.name.label("unit_name"), units.c.parent_key,
                   requirements.c.step_key, requirements.c.step_title, requirements.c.reviewer,
                   phases.c.key.label("phase"), phases.c.title.label("phase_title"))
            .join(obligations, obligations.c.id == filings.c.obligation_id)
            .join(units, units.c.id == obligations.c.unit_id)
            .join(requirements, requirements.c.id == obligations.c.requirement_id)
            .join(phases, phases.c.id == obligations.c.phase_id)
            .where(obligations.c.campaign_id == ctx.id, obligations.c.state == "filed", obligations.c.review.is_(True),
                   filings.c.version == _latest_version()))


def _title(ctx: CampaignCtx, artifact: str) -> str:
    return str(ctx.artifacts.get(artifact, {}).get("title", artifact))


def waiting(conn: Connection, ctx: CampaignCtx, scope: Collection[str] | None, *, phase: str | None = None,
            artifact: str | None = None, parent: str | None = None, limit: int = QUEUE_LIMIT) -> dict[str, Any]:
    """The filings waiting for review, oldest first, within the scope of units and the filters given:
    {"items": [...], "total": n} (at most `limit` items)."""
    q = _waiting_query(ctx)
    if scope is not None:
        q = q.where(units.c.key.in_(list(scope)))
    if phase:
        q = q.where(phases.c.key == phase)
    if artifact:
        q = q.where(obligations.c.artifact == artifact)
    if parent:
        q = q.where(units.c.parent_key == parent)
    total = conn.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = conn.execute(q.order_by(filings.c.at, filings.c.id).limit(limit)).all()
    return {"total": total, "items": [
        {"id": r.id, "unit": r.unit, "unit_name": r.unit_name, "parent": r.parent_key, "artifact": r.artifact,
         "artifact_title": _title(ctx, r.artifact), "step": r.step_key, "step_title": r.step_title, "phase": r.phase,
         "phase_title": r.phase_title, "version": r.version, "at": _iso(r.at, ctx), "by": r.by,
         "signed_by": r.signed_by, "late": bool(r.late), "due": _iso(r.due_at, ctx),
         "reviewer": r.reviewer} for r in rows]}


def queue_choices(conn: Connection, ctx: CampaignCtx, scope: Collection[str] | None) -> dict[str, Any]:
    """What the queue's filters offer: the phases and artifact kinds that ask for review, and the parent units
    (those with active units below them) within the scope."""
    reviewed = (select(requirements.c.phase_id, requirements.c.artifact)
                .where(requirements.c.campaign_id == ctx.id, requirements.c.review.is_(True)))
    pairs = conn.execute(reviewed).all()
    phase_ids = {p for p, _ in pairs}
    phase_rows = conn.execute(select(phases.c.id, phases.c.key, phases.c.title)
                              .where(phases.c.campaign_id == ctx.id).order_by(phases.c.idx)).all()
    active = conn.execute(select(units.c.key, units.c.name, units.c.parent_key)
                          .where(units.c.campaign_id == ctx.id, units.c.active.is_(True)).order_by(units.c.id)).all()
    with_children = {u.parent_key for u in active if u.parent_key and (scope is None or u.key in scope)}
    return {"phases": [{"key": p.key, "title": p.title} for p in phase_rows if p.id in phase_ids],
            "artifacts": [{"key": a, "title": _title(ctx, a)} for a in dict.fromkeys(a for _, a in pairs)],
            "parents": [{"key": u.key, "name": u.name} for u in active if u.key in with_children]}


def versions(conn: Connection, ctx: CampaignCtx, filing_id: int) -> list[dict[str, Any]]:
    """Every version filed for the obligation of `filing_id`, newest first, each with its latest decision."""
    obligation = select(filings.c.obligation_id).where(filings.c.id == filing_id).scalar_subquery()
    rows = conn.execute(select(filings).where(filings.c.obligation_id == obligation)
                        .order_by(filings.c.version.desc())).all()
    decided = {r.filing_id: r for r in conn.execute(
        select(reviews).where(reviews.c.filing_id.in_([r.id for r in rows])).order_by(reviews.c.at, reviews.c.id)).all()}
    return [{"id": r.id, "version": r.version, "at": _iso(r.at, ctx), "by": r.by, "late": bool(r.late),
             "signed_by": r.signed_by, "files": [{"n": n, "name": f["name"], "sha256": f["sha256"], "size": f["size"]}
                                                 for n, f in enumerate(r.files or [])],
             "rows": r.rows,
             "review": ({"decision": d.decision, "comment": d.comment, "by": d.by, "at": _iso(d.at, ctx)}
                        if (d := decided.get(r.id)) else None)} for r in rows]


def obligation_of(conn: Connection, ctx: CampaignCtx, filing_id: int) -> Any:
    """The obligation a filing belongs to (its state, whether it asks for review) and the latest version."""
    return conn.execute(
        select(obligations.c.id, obligations.c.state, obligations.c.review, obligations.c.due_at,
               units.c.key.label("unit"), units.c.name.label("unit_name"), requirements.c.step_key,
               requirements.c.step_title, requirements.c.reviewer, phases.c.title.label("phase_title"),
               _latest_version().label("latest"))
        .select_from(filings)
        .join(obligations, obligations.c.id == filings.c.obligation_id)
        .join(units, units.c.id == obligations.c.unit_id)
        .join(requirements, requirements.c.id == obligations.c.requirement_id)
        .join(phases, phases.c.id == obligations.c.phase_id)
        .where(filings.c.id == filing_id, obligations.c.campaign_id == ctx.id)).first()


def waits(ob: Any, version: int) -> bool:
    """Whether the filing of `version` is the one waiting for a decision on obligation `ob`."""
    return bool(ob is not None and ob.state == "filed" and ob.review and ob.latest == version)


def returnable(ob: Any, version: int) -> bool:
    """Whether the filing of `version` is one of record (报备: no review) that the office may still return (退回):
    the latest version, filed and not returned since."""
    return bool(ob is not None and ob.state == "filed" and not ob.review and ob.latest == version)


def decide(conn: Connection, ctx: CampaignCtx, filing_id: int, accept: bool, comment: str | None, act: Act) -> dict[str, Any]:
    """Accept or reject one filing, which must be the one waiting (the latest version, not yet decided); a filing
    of record (报备, no review) can be returned, never accepted."""
    comment = (comment or "").strip() or None
    if not accept and comment is None:  # checked first: a refused rejection says what to write, whatever else
        raise InvalidInput("退回必须写明理由 (a rejection needs a comment saying what to fix)", field="comment")
    # two reviewers deciding at once: the second waits for the first (PostgreSQL; SQLite has one writer) and
    # then finds the filing decided
    conn.execute(select(obligations.c.id).where(
        obligations.c.id == select(filings.c.obligation_id).where(filings.c.id == filing_id).scalar_subquery())
        .with_for_update())
    row = conn.execute(select(filings.c.version, obligations.c.artifact)
                       .join(obligations, obligations.c.id == filings.c.obligation_id)
                       .where(filings.c.id == filing_id, obligations.c.campaign_id == ctx.id)).first()
    ob = obligation_of(conn, ctx, filing_id)
    if row is None or ob is None:
        raise NotFound(f"活动 '{ctx.key}' 中没有报送 #{filing_id} (no filing #{filing_id} in this campaign)", field="filing")
    if accept and returnable(ob, row.version):
        raise not_reviewed(ctx, row.artifact)
    if not (waits(ob, row.version) or (not accept and returnable(ob, row.version))):
        raise ConflictError(_why_not_waiting(ob, row.version), field="filing")
    return {"filing": filing_id, **review_obligation(conn, ctx.key, ob.unit, row.artifact, accept, comment, act,
                                                      ob.step_key)}


def latest_filed(conn: Connection, ctx: CampaignCtx, unit: str, artifact: str, step: str | None) -> int:
    """The latest filing of the unit's obligation for `artifact` that is filed and not yet decided: what `campaign
    review` and the API decide on (by unit and artifact, where the review page names the filing)."""
    ob = find_obligation(conn, ctx, resolve_unit(conn, ctx, unit), resolve_artifact(ctx, artifact), step, states=("filed",))
    return int(conn.execute(select(filings.c.id).where(filings.c.obligation_id == ob.id)
                            .order_by(filings.c.version.desc()).limit(1)).scalar_one())


def _why_not_waiting(ob: Any, version: int) -> str:
    if ob.latest != version:
        return (f"该单位已报送第 {ob.latest} 版，第 {version} 版不再审核 "
                f"(version {ob.latest} has been filed since; version {version} is no longer reviewed)")
    if not ob.review:
        return "该材料无需审核 (this artifact is not reviewed)"
    return f"该报送已处理（当前状态 {ob.state}）(this filing has been decided already: {ob.state})"


def diff(older: dict[str, Any] | None, newer: dict[str, Any], key_column: str | None) -> dict[str, Any]:
    """What changed from `older` to `newer` (two versions as `versions` gives them): rows added, removed and
    changed (matched on `key_column`, else on their whole content), files added and removed (by content),
    and the signer. Pure: no reading."""
    old_files = {f["sha256"]: f for f in (older or {}).get("files", [])}
    new_files = {f["sha256"]: f for f in newer.get("files", [])}
    out: dict[str, Any] = {
        "files_added": [f for s, f in new_files.items() if s not in old_files],
        "files_removed": [f for s, f in old_files.items() if s not in new_files],
        "signed_by": ((older or {}).get("signed_by"), newer.get("signed_by")),
        "rows_added": [], "rows_removed": [], "rows_changed": [], "rows_same": 0}
    old_rows, new_rows = (older or {}).get("rows"), newer.get("rows")
    if old_rows is None and new_rows is None:
        return out

    def ident(row: dict[str, Any]) -> Any:
        return str(row.get(key_column)) if key_column else repr(sorted(row.items()))

    pending: dict[Any, list[dict[str, Any]]] = {}
    for row in old_rows or []:
        pending.setdefault(ident(row), []).append(row)
    for row in new_rows or []:
        matches = pending.get(ident(row))
        if not matches:
            out["rows_added"].append(row)
            continue
        before = matches.pop(0)
        changed = sorted(c for c in set(before) | set(row) if before.get(c) != row.get(c))
        if changed:
            out["rows_changed"].append({"before": before, "after": row, "columns": changed})
        else:
            out["rows_same"] += 1
    out["rows_removed"] = [r for rest in pending.values() for r in rest]
    return out


def key_column(ctx: CampaignCtx, artifact: str) -> str | None:
    """The column that names a row of an artifact kind (its first required column, else its first)."""
    cols = ctx.artifacts.get(artifact, {}).get("rows") or {}
    required = [str(c) for c, spec in cols.items() if isinstance(spec, dict) and spec.get("required")]
    names = required or [str(c) for c in cols]
    return names[0] if names else None
