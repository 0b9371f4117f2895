"""The figures units filed (征求意见, 制度成果: `ArtifactKind.figures`), as of an instant, added up per parent unit
and for the campaign, with the ledger's own count beside a figure the ledger also counts (`from_ledger`):
what the summary report (汇总数据) prints. Reading only.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import Connection, func, select

from ..counts import sum_figures
from .campaigns import CampaignCtx
from .tables import filings, ledger_items, obligations, units

COUNTED = ("filed", "accepted")  # a rejected filing's numbers are under question until filed again


def figures_summary(conn: Connection, ctx: CampaignCtx, at: dt.datetime) -> list[dict[str, Any]]:
    """Each figures kind of the campaign: its fields, every owing unit's latest counts filed by `at`, their sums
    per parent unit (a top unit is its own group) and for the campaign, and the ledger's counts beside."""
    unit_rows = conn.execute(select(units.c.id, units.c.key, units.c.name, units.c.parent_key)
                             .where(units.c.campaign_id == ctx.id)).all()
    by_id = {u.id: u for u in unit_rows}
    names = {u.key: u.name for u in unit_rows}
    out = []
    for key in ctx.artifacts:
        kind = ctx.artifact(key)
        if kind is None or kind.figures is None or not kind.rows:
            continue
        fields = list(kind.rows)
        obs = conn.execute(select(obligations.c.id, obligations.c.unit_id, obligations.c.state).where(
            obligations.c.campaign_id == ctx.id, obligations.c.artifact == key, obligations.c.state != "waived")).all()
        latest = select(filings.c.obligation_id, func.max(filings.c.version).label("v")).where(
            filings.c.obligation_id.in_([o.id for o in obs if o.state in COUNTED] or [0]), filings.c.at <= at
        ).group_by(filings.c.obligation_id).subquery()
        filed = conn.execute(select(filings.c.obligation_id, filings.c.rows, filings.c.at).join(
            latest, (latest.c.obligation_id == filings.c.obligation_id) & (latest.c.v == filings.c.version))).all()
        unit_of = {o.id: by_id[o.unit_id].key for o in obs}
        rows: dict[str, list[dict[str, Any]]] = {}
        last: dict[str, dt.datetime] = {}
        for ob_id, frows, f_at in filed:
            unit = unit_of[ob_id]
            rows.setdefault(unit, []).extend(frows or [])
            last[unit] = max(last.get(unit, f_at), f_at)
        owing = sorted({unit_of[o.id] for o in obs})
        ledger = _ledger_counts(conn, ctx, kind.figures.from_ledger)
        parent = {u.key: u.parent_key or u.key for u in unit_rows}
        per_unit = [{"unit": u, "unit_name": names.get(u, u), "parent": parent.get(u, u),
                     "parent_name": names.get(parent.get(u, u), u), "filed": u in rows,
                     "filed_at": _local(last[u], ctx) if u in last else None,
                     "values": sum_figures(rows.get(u, []), fields),
                     "ledger": {f: counts.get(u, 0) for f, counts in ledger.items()}} for u in owing]
        groups = []
        for p in dict.fromkeys(r["parent"] for r in per_unit):
            members = [r for r in per_unit if r["parent"] == p]
            groups.append({"parent": p, "parent_name": names.get(p, p), **_sum(members, fields, ledger)})
        out.append({"artifact": key, "title": kind.title, "title_en": kind.title_en,
                    "fields": [{"key": f, "title": c.title, "title_en": c.title_en} for f, c in kind.rows.items()],
                    "at_most": dict(kind.figures.at_most), "from_ledger": dict(kind.figures.from_ledger),
                    "units": per_unit, "groups": groups, "total": _sum(per_unit, fields, ledger)})
    return out


def _sum(members: list[dict[str, Any]], fields: list[str], ledger: dict[str, Counter[str]]) -> dict[str, Any]:
    return {"units_owing": len(members), "units_filed": sum(1 for r in members if r["filed"]),
            "values": sum_figures([r["values"] for r in members], fields),
            "ledger": {f: sum(r["ledger"][f] for r in members) for f in ledger}}


def _ledger_counts(conn: Connection, ctx: CampaignCtx, from_ledger: dict[str, list[str]]) -> dict[str, Counter[str]]:
    """Per figure, the campaign's current ledger items whose source is one of those listed, by unit key."""
    out: dict[str, Counter[str]] = {}
    for figure, sources in from_ledger.items():
        found = conn.execute(select(units.c.key, func.count()).join(units, units.c.id == ledger_items.c.unit_id).where(
            ledger_items.c.campaign_id == ctx.id, ledger_items.c.current.is_(True),
            ledger_items.c.source.in_(sources)).group_by(units.c.key)).all()
        out[figure] = Counter({k: n for k, n in found})
    return out


def _local(value: dt.datetime, ctx: CampaignCtx) -> dt.datetime:
    return value.replace(tzinfo=value.tzinfo or dt.UTC).astimezone(ctx.tz)
