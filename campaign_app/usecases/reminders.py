"""Reminders and the notice: the outbox, the overdue list, "remind now", and the weekly 通报.

"Remind now" only plans: the reminders are sent by a tick, which the wiring may run at once
(`Services.on_remind`, in `serve`: the campaign's tick job), never inside the caller's request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from campaign_model.store.audit import Act

from .services import Services

if TYPE_CHECKING:
    from .scope import Scope

NOTICE_FORMATS = ("md", "xlsx")
LANGS = ("zh", "en")


def outbox(svc: Services, campaign: str, *, state: str | None = None, unit: str | None = None) -> list[dict[str, Any]]:
    """The reminder outbox of a campaign, optionally of one state and one unit."""
    from campaign_model.store import outbox as store
    from campaign_model.store.campaigns import load_ctx

    with svc.read() as conn:
        return store.listing_docs(conn, load_ctx(conn, campaign), state, unit)


OUTBOX_PAGE = 50


def outbox_page(svc: Services, campaign: str, *, state: str | None = None, unit: str | None = None, page: int = 1,
                size: int = OUTBOX_PAGE) -> dict[str, Any]:
    """One page of the outbox (newest first) with the counts per state, for the reminders page: each
    reminder with its recipient, channel, times, attempts, last error, and what it is about."""
    from campaign_model.errors import InvalidInput
    from campaign_model.store import outbox as store
    from campaign_model.store.campaigns import load_ctx
    from campaign_model.store.people import directory
    from campaign_model.store.unit_lookup import resolve_unit, unit_rows

    if state and state not in store.STATES:
        raise InvalidInput(f"state: 未知的催办状态 '{state}'，可选 {'、'.join(store.STATES)} "
                           f"(unknown state; one of {', '.join(store.STATES)})", field="state")
    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        unit = resolve_unit(conn, ctx, unit) if unit else None
        rows, total = store.page(conn, ctx.id, state=state, unit=unit, limit=size, offset=(page - 1) * size)
        counts = store.state_counts(conn, ctx.id, unit)
        names = {u.key: u.name for u in unit_rows(conn, ctx)}
        people = directory(conn, ctx.id)  # a lead office's or a leader's reminders: named from the spec's people

    def local(v: dt.datetime | None) -> str | None:
        return v.astimezone(ctx.tz).isoformat() if v else None

    def titles(artifact: str) -> tuple[str, str]:
        spec = ctx.artifacts.get(artifact) or {}
        zh = str(spec.get("title") or artifact)
        return zh, str(spec.get("title_en") or zh)

    docs = []
    for r in rows:
        is_item = r.item_id is not None
        docs.append({
            "id": r.id, "kind": r.kind, "state": r.state, "recipient": r.recipient,
            "recipient_name": r.recipient_name or (people.recipient(r.recipient) or (r.recipient,))[0],
            "channel": r.channel, "planned_for": local(r.planned_for),
            "sent_at": local(r.sent_at), "attempts": r.attempts, "next_attempt_at": local(r.next_attempt_at),
            "error": r.last_error, "unit": r.unit, "unit_name": r.unit_name, "due": local(r.due_at),
            "item": r.item_id, "problem": r.problem if is_item else None,
            "artifact": None if is_item else r.artifact, "title": None if is_item else titles(r.artifact)})
    return {"campaign": campaign, "title": ctx.title, "rows": docs, "total": total, "page": page, "size": size,
            "pages": max((total + size - 1) // size, 1), "counts": {s: counts.get(s, 0) for s in store.STATES},
            "units": names, "unit": unit, "state": state}


def resend(svc: Services, act: Act, campaign: str, outbox_id: int, *,
           defer: Callable[..., Any] | None = None) -> dict[str, Any]:
    """Send a dead reminder again: back to planned for now with its attempts counted afresh (audited), then a
    tick is asked for to send it, as "remind now" does (`defer`: after the caller has answered). Anything
    but a dead reminder is refused and nothing changes. `held`: outside the send window, it waits for it."""
    from campaign_model.reminders import in_send_window
    from campaign_model.store import outbox as store
    from campaign_model.store.campaigns import load_ctx

    with svc.write() as conn:
        ctx = load_ctx(conn, campaign)
        result = store.resend(conn, ctx, outbox_id, act)
    if svc.on_remind is not None:
        (defer or _now)(svc.on_remind, campaign)
    return {**result, "held": not in_send_window(act.at, ctx.policy, ctx.calendar, ctx.tz)}


def overdue(svc: Services, campaign: str, *, scope: Scope | None = None) -> dict[str, Any]:
    """The obligations open and past due now, of the units within `scope` (None: all), with the reminders sent."""
    from campaign_model.store import board
    from campaign_model.store.campaigns import load_ctx

    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        units = scope.units(conn, ctx) if scope is not None else None
        rows = board.overdue(conn, campaign, svc.now(), units=units)
    return {"campaign": campaign, "title": ctx.title, "rows": rows}


def remind_now(svc: Services, act: Act, campaign: str, obligations: list[int], *,
               defer: Callable[..., Any] | None = None) -> dict[str, Any]:
    """Plan a reminder for each chosen open obligation (once a day each), then ask for a tick to send them.

    `defer(fn, *args)` runs the tick's request after the caller has answered (a web request's background
    task); without it, at once."""
    from campaign_model.store.campaigns import load_ctx
    from campaign_model.store.outbox import remind_now as plan
    from notifications.setup import router_from_env

    if not obligations:
        return {"planned": 0, "obligations": []}
    with svc.write() as conn:
        result = plan(conn, load_ctx(conn, campaign), obligations, act, router_from_env())
    if result["planned"] and svc.on_remind is not None:
        (defer or _now)(svc.on_remind, campaign)
    return result


def _now(fn: Callable[..., Any], *args: Any) -> None:
    fn(*args)


def notice(svc: Services, campaign: str, *, at: dt.datetime | None = None, fmt: str = "md", lang: str | None = None,
           out: Path | None = None) -> dict[str, Any]:
    """The 通报 of units overdue at `at` (default: now), by parent unit: Markdown, or written to `out` (md or xlsx).

    In the campaign's language unless `lang` says otherwise; `markdown` is returned when nothing is written."""
    from campaign_model.errors import InvalidInput
    from campaign_model.store.campaigns import load_ctx
    from campaign_model.store.notice_query import overdue_by_parent
    from notifications.notice import render_markdown, write_xlsx

    with svc.read() as conn:
        data = overdue_by_parent(conn, campaign, at or svc.now())
        # an official document: in the campaign's language unless asked otherwise
        lang = lang or str(load_ctx(conn, campaign).messages.get("language", "zh"))
    doc: dict[str, Any] = {"campaign": campaign, "lang": lang, "units_overdue": data.units_overdue,
                           "items_overdue": data.items_overdue, "path": str(out) if out else None, "markdown": None}
    if out is None:
        return {**doc, "markdown": render_markdown(data, lang)}
    try:
        if fmt == "xlsx":
            write_xlsx(data, out, lang)
        else:
            out.write_text(render_markdown(data, lang), encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"--out: 无法写入 '{out}' (cannot write: {exc.strerror})", field="out") from None
    return doc
