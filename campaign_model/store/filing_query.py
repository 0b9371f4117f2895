"""Filings as a client reads them: the versions of a unit's artifacts, and one filing with its files."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, select

from ..errors import NotFound
from .campaigns import CampaignCtx, resolve_unit
from .filings import resolve_artifact
from .tables import filings, obligations, requirements, reviews, units


def _iso(value: Any, ctx: CampaignCtx) -> str | None:
    return value.astimezone(ctx.tz).isoformat() if value else None


def _query(ctx: CampaignCtx) -> Any:
    return (select(filings, units.c.key.label("unit"), obligations.c.artifact, requirements.c.step_key,
                   obligations.c.state.label("obligation_state"))
            .join(obligations, obligations.c.id == filings.c.obligation_id)
            .join(units, units.c.id == obligations.c.unit_id)
            .join(requirements, requirements.c.id == obligations.c.requirement_id)
            .where(obligations.c.campaign_id == ctx.id))


def _doc(r: Any, ctx: CampaignCtx, decisions: dict[int, Any]) -> dict[str, Any]:
    d = decisions.get(r.id)
    return {"id": r.id, "unit": r.unit, "artifact": r.artifact, "step": r.step_key, "version": r.version,
            "at": _iso(r.at, ctx), "by": r.by, "signed_by": r.signed_by, "late": bool(r.late),
            "files": [{"n": n, "name": f["name"], "sha256": f["sha256"], "size": f["size"]} for n, f in enumerate(r.files or [])],
            "rows": r.rows, "review": ({"decision": d.decision, "comment": d.comment, "by": d.by, "at": _iso(d.at, ctx)}
                                       if d else None)}


def _decisions(conn: Connection, ids: list[int]) -> dict[int, Any]:
    if not ids:
        return {}
    rows = conn.execute(select(reviews).where(reviews.c.filing_id.in_(ids)).order_by(reviews.c.at, reviews.c.id)).all()
    return {r.filing_id: r for r in rows}  # the latest decision on each filing


def filing_list(conn: Connection, ctx: CampaignCtx, scope: Collection[str] | None, unit: str | None = None,
                artifact: str | None = None, with_rows: bool = False) -> list[dict[str, Any]]:
    """Every version filed (newest first), within the scope of units; rows only when asked for."""
    q = _query(ctx).order_by(filings.c.at.desc(), filings.c.id.desc())
    if scope is not None:
        q = q.where(units.c.key.in_(list(scope)))
    if unit:
        q = q.where(units.c.key == resolve_unit(conn, ctx, unit))
    if artifact:
        q = q.where(obligations.c.artifact == resolve_artifact(ctx, artifact))
    rows = conn.execute(q).all()
    decisions = _decisions(conn, [r.id for r in rows])
    docs = [_doc(r, ctx, decisions) for r in rows]
    if not with_rows:
        for d in docs:
            d["rows"] = len(d["rows"]) if d["rows"] is not None else None
    return docs


def filing(conn: Connection, ctx: CampaignCtx, filing_id: int) -> dict[str, Any]:
    row = conn.execute(_query(ctx).where(filings.c.id == filing_id)).first()
    if row is None:
        raise NotFound(f"活动 '{ctx.key}' 中没有报送 #{filing_id} (no filing #{filing_id} in this campaign)")
    return _doc(row, ctx, _decisions(conn, [row.id]))
