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
