"""Filings, reviews, waivers and obligations: filing an artifact (from files on disk, or from uploads),
reviewing it, waiving an obligation, and what a unit owes and has filed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from campaign_model.errors import ConflictError, InvalidInput, NotFound
from campaign_model.store import board
from campaign_model.store import filings as store
from campaign_model.store import reviews as review_store
from campaign_model.store.accounts import list_users
from campaign_model.store.audit import Act
from campaign_model.store.blobs import put_files
from campaign_model.store.campaigns import load_ctx, unit_rows
from campaign_model.store.filing_query import filing as get_filing
from campaign_model.store.filing_query import filing_list
from campaign_model.store.queries import obligation_list

from .scope import Scope, seen_and_unit, unit_key
from .services import Services

RECENT = 20  # filings the form lists under itself


@dataclass(frozen=True)
class Uploads:
    """A filing's uploads, checked and spooled: its files (content or path, name) and its rows file (path, name)."""

    files: list[tuple[Path | bytes, str]]
    rows: tuple[Path, str] | None = None


def file_artifact(svc: Services, act: Act, campaign: str, unit: str, artifact: str, *, files: Sequence[Path] = (),
                  rows: Path | None = None, signed_by: str | None = None, step: str | None = None) -> dict[str, Any]:
    """File an artifact for a unit from files on disk: checked, stored and recorded in one transaction."""
    with svc.write() as conn:
        return store.file_artifact(conn, svc.blobs, campaign, unit, artifact, act, files=list(files), rows_file=rows,
                                   signed_by=signed_by, step=step)


def file_uploads(svc: Services, act: Act, campaign: str, unit: str, artifact: str,
                 uploads: Callable[[], AbstractContextManager[Uploads]], *, signed_by: str | None = None,
                 step: str | None = None, scope: Scope | None = None,
                 figures: dict[str, Any] | None = None) -> dict[str, Any]:
    """File an artifact for a unit in scope from uploads (or a figures kind's numbers typed into the form);
    a refused filing stores nothing."""
    # the busiest write: the unit and scope are checked first, before an upload is read (`uploads` spools
    # and checks them when entered); then the filing is checked reading only, the contents are put by hash,
    # and only the recording takes the writers' lock
    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        unit = unit_key(conn, ctx, scope, unit)
        if scope is not None:
            scope.check(conn, ctx, unit)
    with uploads() as spool:
        with svc.read() as conn:
            prepared = store.prepare_filing(conn, campaign, unit, artifact, has_files=bool(spool.files),
                                            rows_file=spool.rows[0] if spool.rows else None,
                                            rows_name=spool.rows[1] if spool.rows else None,
                                            signed_by=(signed_by or "").strip() or None, step=step or None,
                                            figures=figures)
        stored = put_files(svc.blobs, spool.files)
        with svc.write() as conn:
            return store.record_filing(conn, prepared, stored, act)


def obligations(svc: Services, campaign: str, *, at: dt.datetime | None = None, unit: str | None = None,
                state: str | None = None, scope: Scope | None = None) -> list[dict[str, Any]]:
    """A campaign's obligations and their states at `at` (default: now), within the scope, a unit, a state."""
    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        seen, unit = seen_and_unit(conn, ctx, scope, unit)
        docs = obligation_list(conn, campaign, at or svc.now())
    return [d for d in docs if (seen is None or d["unit"] in seen) and (unit is None or d["unit"] == unit)
            and (state is None or d["state"] == state)]


def filings(svc: Services, campaign: str, *, unit: str | None = None, artifact: str | None = None,
            scope: Scope | None = None) -> list[dict[str, Any]]:
    """The versions filed (newest first), within the scope, for a unit, an artifact kind."""
    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        seen, unit = seen_and_unit(conn, ctx, scope, unit)
        return filing_list(conn, ctx, seen, unit, artifact)


def filing(svc: Services, campaign: str, filing_id: int, *, scope: Scope | None = None) -> dict[str, Any]:
    """One filing, with its rows, of a unit in scope."""
    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        seen = scope.units(conn, ctx) if scope is not None else None
        doc = get_filing(conn, ctx, filing_id)
        if scope is not None:
            scope.check(conn, ctx, doc["unit"], seen)
    return doc


def filed_file(svc: Services, campaign: str, filing_id: int, n: int, *, scope: Scope | None = None) -> dict[str, Any]:
    """The `n`th file of a filing in scope (name, sha256, size), to fetch from the file store by hash."""
    doc = filing(svc, campaign, filing_id, scope=scope)
    if not 0 <= n < len(doc["files"]):
        raise NotFound(f"报送 #{filing_id} 没有第 {n} 个附件 (no file {n} in this filing)", field="n")
    return dict(doc["files"][n])


def review(svc: Services, act: Act, campaign: str, unit: str, artifact: str, *, accept: bool,
           comment: str | None = None, step: str | None = None) -> dict[str, Any]:
    """Accept or reject the latest filing (a filing of record, 报备, can only be rejected); a rejection reopens
    the obligation. The same decision as the review page's (`decide_filing`), found by unit and artifact."""
    with svc.write() as conn:
        ctx = load_ctx(conn, campaign)
        if not accept and not (comment or "").strip():  # said first, before the filing is looked for
            raise InvalidInput("退回必须写明理由 (a rejection needs a comment saying what to fix)", field="comment")
        return review_store.decide(conn, ctx, review_store.latest_filed(conn, ctx, unit, artifact, step), accept,
                                   comment, act)


def waive(svc: Services, act: Act, campaign: str, unit: str, artifact: str, *, reason: str,
          step: str | None = None) -> dict[str, Any]:
    """Excuse a unit from an open obligation, with the reason."""
    with svc.write() as conn:
        return store.waive(conn, campaign, unit, artifact, reason, act, step)


def filing_form(svc: Services, campaign: str, *, unit: str = "", own: str | None = None, strict: bool = False,
                scope: Scope | None = None) -> dict[str, Any]:
    """What the filing form offers: the units in scope, the chosen one's obligations and recent filings."""
    # the chosen unit: `unit`, else the caller's own, else the first in scope; `strict`: `unit` was asked for
    # by name and must be in scope, else it is only a preference
    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        seen = scope.units(conn, ctx) if scope is not None else None
        if strict and scope is not None:
            scope.check(conn, ctx, unit, seen)
        units = [{"key": u.key, "name": u.name} for u in unit_rows(conn, ctx)
                 if u.active and (seen is None or u.key in seen)]
        keys = [u["key"] for u in units]
        chosen = next((k for k in (unit, own) if k in keys), keys[0] if keys else None)
        owed = _owed(board.matrix(conn, campaign, svc.now(), units={chosen})) if chosen else []
        recent = filing_list(conn, ctx, seen, chosen)[:RECENT] if chosen else []
    return {"campaign": campaign, "title": ctx.title, "units": units, "unit": chosen, "owed": owed, "recent": recent,
            "titles": {k: str(v.get("title", k)) for k, v in ctx.artifacts.items()},
            "workbooks": [k for k, v in ctx.artifacts.items() if v.get("rows")],
            # figures kinds (征求意见, 制度成果): their numbers are typed into the form, one field per figure
            "figures": {k: [{"key": col, "title": str(spec.get("title", col)), "required": bool(spec.get("required"))}
                            for col, spec in (v.get("rows") or {}).items()]
                        for k, v in ctx.artifacts.items() if v.get("figures") is not None},
            # row columns by key -> their titles, to name a rows problem's column as the spreadsheet does
            "columns": {col: str(spec.get("title", col)) for kind in ctx.artifacts.values()
                        for col, spec in (kind.get("rows") or {}).items() if isinstance(spec, dict)}}


def _owed(m: dict[str, Any]) -> list[dict[str, Any]]:
    """The chosen unit's obligations (its one row of the matrix), in due order."""
    if not m["rows"]:
        return []
    return [{"artifact": col["artifact"], "title": col["title"], "step": col["step"], "step_title": col["step_title"], **cell}
            for col, cell in zip(m["columns"], m["rows"][0]["cells"], strict=True) if cell is not None]


# --- the review queue (待审核): what waits for a decision, one filing as the reviewer reads it, the decisions ---

BATCH = 500  # filings accepted at once, at most


def review_queue(svc: Services, campaign: str, *, phase: str | None = None, artifact: str | None = None,
                 parent: str | None = None, decided: int | None = None, scope: Scope | None = None) -> dict[str, Any]:
    """The filings waiting for review, oldest first, within the scope and the filters, and what the filters offer;
    with `decided`, that filing's unit, artifact, version and decision (to confirm a decision just taken)."""
    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        seen = scope.units(conn, ctx) if scope is not None else None
        choices = review_store.queue_choices(conn, ctx, seen)
        for field, value, offered in (("phase", phase, choices["phases"]), ("artifact", artifact, choices["artifacts"]),
                                      ("parent", parent, choices["parents"])):
            if value and value not in {c["key"] for c in offered}:
                known = ", ".join(c["key"] for c in offered) or "—"
                raise InvalidInput(f"筛选条件 {field} 没有 '{value}' 这一项；可选：{known} "
                                   f"(no '{value}' to filter {field} by; known: {known})", field=field)
        found = review_store.waiting(conn, ctx, seen, phase=phase or None, artifact=artifact or None,
                                     parent=parent or None)
        done = _decided(conn, ctx, decided, seen) if decided else None
    return {"campaign": campaign, "title": ctx.title, **found, **choices, "decided": done}


def _decided(conn: Any, ctx: Any, filing_id: int, seen: frozenset[str] | None) -> dict[str, Any] | None:
    try:
        doc = get_filing(conn, ctx, filing_id)
    except NotFound:
        return None
    ob = review_store.obligation_of(conn, ctx, filing_id)
    if doc["review"] is None or (seen is not None and doc["unit"] not in seen):
        return None
    return {"id": filing_id, "unit_name": ob.unit_name, "version": doc["version"], **doc["review"],
            "artifact_title": str(ctx.artifacts.get(doc["artifact"], {}).get("title", doc["artifact"]))}


def review_view(svc: Services, campaign: str, filing_id: int, *, scope: Scope | None = None) -> dict[str, Any]:
    """One filing as its reviewer reads it: files, rows and their columns, the earlier versions, what changed
    since the previous version, the sign-off, and whether it waits for a decision."""
    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        doc = get_filing(conn, ctx, filing_id)
        if scope is not None:
            scope.check(conn, ctx, doc["unit"])
        ob = review_store.obligation_of(conn, ctx, filing_id)
        history = review_store.versions(conn, ctx, filing_id)
        # who filed and who decided, by name: units by key, accounts by their display name
        units = {u.key: u.name for u in unit_rows(conn, ctx)}
        accounts = [{k: u[k] for k in ("name", "unit", "display_name")} for u in list_users(conn)]
    kind = ctx.artifacts.get(doc["artifact"], {})
    this = next(v for v in history if v["id"] == filing_id)
    previous = next((v for v in history if v["version"] < doc["version"]), None)
    changes = review_store.diff(previous, this, review_store.key_column(ctx, doc["artifact"]))
    for v in history:  # the list of versions shows how many rows each had, not the rows
        v["rows"] = len(v["rows"]) if v["rows"] is not None else None
    return {"campaign": campaign, "title": ctx.title, "filing": doc, "unit_name": ob.unit_name,
            "artifact_title": str(kind.get("title", doc["artifact"])), "step_title": ob.step_title,
            "phase_title": ob.phase_title, "due": ob.due_at.astimezone(ctx.tz).isoformat(), "state": ob.state,
            "reviewer": ob.reviewer, "latest": ob.latest, "waiting": review_store.waits(ob, doc["version"]),
            "returnable": review_store.returnable(ob, doc["version"]),
            "columns": [{"key": c, "title": str(spec.get("title", c)) if isinstance(spec, dict) else c}
                        for c, spec in (kind.get("rows") or {}).items()],
            "versions": history, "previous": previous["version"] if previous else None, "changes": changes,
            "units": units, "accounts": accounts}


def decide_filing(svc: Services, act: Act, campaign: str, filing_id: int, *, accept: bool, comment: str | None = None,
                  scope: Scope | None = None) -> dict[str, Any]:
    """Accept or reject one filing, which must be the latest version and still wait for review; a rejection
    needs a comment (the unit reads it on its tasks and in its next reminder)."""
    with svc.write() as conn:
        ctx = load_ctx(conn, campaign)
        if scope is not None:
            scope.check(conn, ctx, get_filing(conn, ctx, filing_id)["unit"])
        return review_store.decide(conn, ctx, filing_id, accept, comment, act)


def accept_filings(svc: Services, act: Act, campaign: str, filing_ids: Sequence[int], *,
                   scope: Scope | None = None) -> dict[str, Any]:
    """Accept several filings in one transaction, each audited as one decision; those no longer waiting
    (decided meanwhile, or a newer version filed) are left as they are and reported."""
    ids = list(dict.fromkeys(filing_ids))
    if not ids:
        raise InvalidInput("请至少勾选一份报送 (select at least one filing)", field="filing")
    if len(ids) > BATCH:
        raise InvalidInput(f"一次最多通过 {BATCH} 份 (at most {BATCH} filings at once)", field="filing")
    accepted: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    with svc.write() as conn:
        ctx = load_ctx(conn, campaign)
        seen = scope.units(conn, ctx) if scope is not None else None
        for fid in ids:
            try:
                if scope is not None:
                    scope.check(conn, ctx, get_filing(conn, ctx, fid)["unit"], seen)
                accepted.append(review_store.decide(conn, ctx, fid, True, None, act))
            except (ConflictError, NotFound, InvalidInput) as exc:  # InvalidInput: a filing of record (报备)
                skipped.append({"filing": fid, "reason": str(exc)})
    return {"campaign": campaign, "accepted": accepted, "skipped": skipped}
