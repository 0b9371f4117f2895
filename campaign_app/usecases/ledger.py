"""The rectification ledger (整改台账): its list and items, a unit's progress and fix, the supervisor's
销号 or sending back, supervision findings, look-back re-checks, bureau workbooks, evidence files.

The rules (which state may follow which, what closing needs) are `campaign_model.ledger`'s; the
changes and their history are `store.ledger`'s. An item's unit is checked against the caller's scope
here, where the API and the pages used to check it, in the use case's own transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from campaign_model.errors import NotFound
from campaign_model.ledger import STATES
from campaign_model.store import ledger as store
from campaign_model.store import queries
from campaign_model.store.accounts import list_users
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import CampaignCtx, load_ctx, unit_rows
from campaign_model.store.lookback import decide
from campaign_model.store.reports import add_ledger_items
from notifications.reports.ledger_import import import_ledger

from .scope import Scope, seen_and_unit
from .services import Services

Files = Sequence[Path | tuple[Path | bytes, str]]  # paths on disk, or (path or content, name as uploaded)
# uploads are spooled only once the item is known to be the caller's: the web layer passes the spooling
Spool = Callable[[], AbstractContextManager[Files]]


def ledger(svc: Services, campaign: str, *, unit: str | None = None, state: str | None = None,
           at: dt.datetime | None = None, scope: Scope | None = None) -> list[dict[str, Any]]:
    """The current items of a campaign's ledger in scope (of a unit, in a state), with history, evidence and
    whether each is overdue at `at` (default: now)."""
    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        seen, unit = seen_and_unit(conn, ctx, scope, unit)
        docs = queries.ledger(conn, campaign, unit, state, at or svc.now())
    return [d for d in docs if seen is None or d["unit"] in seen]


PER_PAGE = 50  # items on a page of the ledger's list


def ledger_list(svc: Services, campaign: str, *, unit: str | None = None, state: str | None = None,
                category: str | None = None, source: str | None = None, overdue: bool | None = None,
                page: int = 1, per_page: int = PER_PAGE, scope: Scope | None = None) -> dict[str, Any]:
    """A page of the ledger's list as the dashboard shows it: the items in scope that pass the filters (an
    unknown state filters nothing), filtered, counted and paged by the database; a page past the last
    shows the last. With the counts per state, the filters' choices and the units' names."""
    now = svc.now()
    state = state if state in STATES else None
    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        seen, unit = seen_and_unit(conn, ctx, scope, unit)
        names = {u.key: u.name for u in unit_rows(conn, ctx)}

        def one(n: int) -> dict[str, Any]:
            return store.item_list(conn, ctx, now, seen=seen, unit=unit, state=state, category=category or None,
                                   source=source or None, overdue=overdue, offset=(n - 1) * per_page, limit=per_page)

        found = one(page)
        pages = max(1, -(-found["total"] // per_page))
        if page > pages:
            page, found = pages, one(pages)
        facets = store.item_facets(conn, ctx, seen)
    return {"campaign": ctx.key, "title": ctx.title, "units": names, "scope": sorted(seen) if seen is not None else None,
            **found, **facets, "page": page, "pages": pages, "per_page": per_page, "at": now}


def item_view(svc: Services, campaign: str, item_id: int, *, scope: Scope | None = None) -> dict[str, Any]:
    """What an item's page shows: the item whole with its history and evidence (NotFound when it is not of
    `campaign`, refused beyond the caller's scope), the units' names and the accounts of its history."""
    now = svc.now()
    with svc.read() as conn:
        ctx, _ = _owned(conn, item_id, campaign, scope)
        doc = store.item_doc(conn, item_id, now)
        names = {u.key: u.name for u in unit_rows(conn, ctx)}
        accounts = [{k: u[k] for k in ("name", "unit", "display_name")} for u in list_users(conn)]
    return {"campaign": ctx.key, "title": ctx.title, "item": doc, "units": names, "accounts": accounts, "at": now}


def item(svc: Services, item_id: int, *, campaign: str | None = None, scope: Scope | None = None) -> dict[str, Any]:
    """One ledger item of a unit in scope (and of `campaign`, when given): its campaign, unit and history."""
    with svc.read() as conn:
        ctx, unit = _owned(conn, item_id, campaign, scope)
        history = store.histories(conn, [item_id], ctx)[item_id]
    return {"id": item_id, "campaign": ctx.key, "unit": unit, "history": history}


def evidence_file(svc: Services, item_id: int, n: int, *, campaign: str | None = None,
                  scope: Scope | None = None) -> dict[str, Any]:
    """The `n`th evidence file of an item in scope (name, sha256), to fetch from the file store by hash."""
    files = [f for event in item(svc, item_id, campaign=campaign, scope=scope)["history"] for f in event["evidence"]]
    if not 0 <= n < len(files):
        raise NotFound(f"台账条目 #{item_id} 没有第 {n} 个佐证 (no evidence file {n})", field="n")
    return files[n]


def report_progress(svc: Services, act: Act, item_id: int, *, state: str, note: str | None = None,
                    evidence: Files | Spool = (), campaign: str | None = None,
                    scope: Scope | None = None) -> dict[str, Any]:
    """A unit reports progress on an item in its scope (in_progress, with a note) or the fix (rectified,
    with evidence files)."""
    # checked first in a read transaction, then the uploads are spooled, and only the change takes the
    # writers' lock: an item beyond the caller's scope costs no upload
    with svc.read() as conn:
        _owned(conn, item_id, campaign, scope)
    spool = evidence if callable(evidence) else (lambda: nullcontext(evidence))
    with spool() as files, svc.write() as conn:
        return store.update_item(conn, svc.blobs, item_id, state, note, files, act)


def verify(svc: Services, act: Act, item_id: int, *, close: bool, comment: str | None,
           deadline: dt.date | None = None, campaign: str | None = None, scope: Scope | None = None) -> dict[str, Any]:
    """A supervisor closes (销号) a rectified item, with evidence on file, or sends it back (a new deadline
    optional)."""
    with svc.write() as conn:
        if campaign is not None or scope is not None:
            _owned(conn, item_id, campaign, scope)
        return store.verify_item(conn, item_id, close, comment, act, deadline)


def record_finding(svc: Services, act: Act, campaign: str, unit: str, problem: str, *, deadline: dt.date | None = None,
                   category: str | None = None, measure: str | None = None, leader: str | None = None,
                   office: str | None = None, long_term: bool = False, mechanism: str | None = None) -> dict[str, Any]:
    """A supervision finding (督查) becomes an open ledger item of the unit, with its deadline or long-term and
    the rest of 四个明确 as far as the supervisor names them (measure, leader and office, mechanism)."""
    with svc.write() as conn:
        return store.record_finding(conn, campaign, unit, problem, deadline, act, category=category, measure=measure,
                                    leader=leader, office=office, long_term=long_term, mechanism=mechanism)


def recheck(svc: Services, act: Act, item_id: int, *, passed: bool, comment: str | None,
            step: str | None = None, deadline: dt.date | None = None) -> dict[str, Any]:
    """A look-back re-check (回头看) decided: passed keeps the item closed, failed reopens it (反弹)."""
    with svc.write() as conn:
        return decide(conn, item_id, passed, comment, act, step=step, deadline=deadline)


def import_workbook(svc: Services, act: Act, campaign: str, file: Path, *, unit: str | None = None) -> dict[str, Any]:
    """A bureau's ledger workbook (XLSX/CSV) into the campaign's ledger, to `unit` or each row's 单位."""
    items = import_ledger(file)  # read and checked whole before the database is touched
    with svc.write() as conn:
        return add_ledger_items(conn, campaign, items, act, unit, str(file))


def _owned(conn: Connection, item_id: int, campaign: str | None, scope: Scope | None) -> tuple[CampaignCtx, str]:
    """The item's campaign and unit, once the unit is in scope and the item of `campaign` (when given)."""
    key, unit = store.item_owner(conn, item_id)
    ctx = load_ctx(conn, key)
    if scope is not None:
        scope.check(conn, ctx, unit)  # walks up from the unit: no need to read every unit
    if campaign is not None and campaign != key:
        raise NotFound(f"活动 '{campaign}' 中没有台账条目 #{item_id} (no ledger item #{item_id} here)")
    return ctx, unit

