"""What an administrator sees before an override (免报 of one obligation, 特批转段 of the running phase): the
obligation in words (unit, artifact, step, due, state), and the running phase with what its gate still misses.

The overrides themselves are `filings.waive` and `campaigns.advance(force=True)`, the same use cases the API
and the command line call, audited by the store with their reasons.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from campaign_model.errors import NotFound
from campaign_model.store import board, queries
from campaign_model.store.campaigns import load_ctx
from campaign_model.store.unit_lookup import unit_rows

from .services import Services

OPEN = ("pending", "rejected")


def waive_view(svc: Services, campaign: str, unit: str, artifact: str, step: str, at: dt.datetime) -> dict[str, Any]:
    """One obligation of `unit` (artifact at step) as the waiver form shows it; `open` says whether it may be waived."""
    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        mx = board.matrix(conn, campaign, at, units={unit})
    for row in mx["rows"]:
        for col, cell in zip(mx["columns"], row["cells"], strict=True):
            if cell is not None and col["artifact"] == artifact and col["step"] == step:
                return {"campaign": campaign, "title": ctx.title, "unit": row["unit"], "unit_name": row["name"],
                        "parent": row["parent"], "artifact": artifact, "artifact_title": col["title"], "step": step,
                        "step_title": col["step_title"], "phase": col["phase"], "due": cell["due"],
                        "state": cell["state"], "light": cell["light"], "filed_at": cell["filed_at"],
                        "open": cell["state"] in OPEN}
    raise NotFound(f"单位 '{unit}' 没有需报送的 '{artifact}'（步骤 '{step}'）(unit '{unit}' owes no '{artifact}' "
                   f"at step '{step}')", field="unit")


def advance_view(svc: Services, campaign: str, at: dt.datetime) -> dict[str, Any] | None:
    """The running phase whose gate is not met at `at`, with what is missing (unit names, artifact titles);
    None when no phase is running or its gate is met (then nothing needs overriding)."""
    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        doc = queries.status(conn, campaign, at)
        names = {u.key: u.name for u in unit_rows(conn, ctx)}
    current = next((p for p in doc["phases"] if p["key"] == doc["current_phase"]), None)
    if current is None or current["gate"]["met"]:
        return None
    titles = {k: str(v.get("title", k)) for k, v in ctx.artifacts.items()}
    missing = [{**m, "unit_name": names.get(m["unit"], m["unit"]), "artifact_title": titles.get(m["artifact"], m["artifact"])}
               for m in current["gate"]["missing"]]
    return {"phase": current["key"], "title": current["title"], "state": current["state"], "end": current["end"],
            "missing": missing, "conditions": current["gate"].get("conditions")}
