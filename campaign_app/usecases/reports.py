"""Reports by kind, for `campaign report` and GET /api/v1/campaigns/{key}/reports/{kind} alike: which kinds
and formats exist, one builder per kind, and the report written as a file.

A report is an official document: it is in the campaign's language only. The notice's Excel file is the
notice's own sheet (the one `campaign notice --format xlsx` writes), whoever asks for it.

Each report carries the audit chain's head (SEQ:HASH) read with its data, and the head is kept as an
anchor in the data directory once the file is written (`usecases.audit.anchor_head`): a report handed to
the supervising group is evidence of how long the chain was.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from .services import Services

KINDS = ("phase-audit", "ledger", "notice", "closure", "grades", "summary")
TABLE_FORMATS = ("xlsx", "csv", "json", "html", "pdf")
FORMATS = {kind: TABLE_FORMATS for kind in KINDS} | {"closure": TABLE_FORMATS + ("svg", "png")}
KIND_ZH = {"phase-audit": "阶段完成情况审计", "ledger": "整改台账", "notice": "通报", "closure": "销号进度", "grades": "考核排名"}
KIND_ZH["summary"] = "汇总数据（征求意见、制度成果）"  # the figures units filed, added up (store.figures)


def build_report(conn: Connection, campaign: str, kind: str, at: dt.datetime, phase: str | None, unit: str | None,
                 explicit_at: bool) -> Any:
    """The report of `kind` as of `at`; the closure series runs to `at` only when it was asked for."""
    from campaign_model.store import reports as queries
    from campaign_model.store.campaigns import load_ctx
    from notifications.reports.audit import phase_audit_report
    from notifications.reports.build import closure_report, ledger_report, notice_report

    ctx = load_ctx(conn, campaign)
    lang = _language(ctx)
    if kind == "phase-audit":
        from campaign_model.store.outbox import delivered_by_channel
        from notifications.setup import router_from_env

        audit = queries.phase_audit(conn, campaign, phase, at)
        # by channel, so that reminders written to the outbox file are not reported as sent
        deliveries = delivered_by_channel(conn, ctx.id, [p["phase"] for p in audit.phases], at)
        kinds = {e.name: e.kind for e in router_from_env().entries}
        return phase_audit_report(audit, deliveries, kinds, lang)
    if kind == "notice":
        from campaign_model.store.notice_query import overdue_by_parent

        return notice_report(overdue_by_parent(conn, campaign, at), lang)
    local = at.astimezone(ctx.tz)
    if kind == "grades":
        from notifications.reports.grades import grades_report

        from .grades import ranking_in

        return grades_report(ranking_in(conn, ctx, at, lang=lang), local, lang)
    if kind == "summary":
        from campaign_model.store.figures import figures_summary
        from notifications.reports.summary import summary_report

        return summary_report(figures_summary(conn, ctx, at), ctx.key, ctx.title, local, lang)
    if kind == "ledger":
        return ledger_report(queries.ledger_rows(conn, campaign, unit), ctx.key, ctx.title, local, unit, lang)
    # without an instant asked for, the series runs to its last change, not on to today
    until = at if explicit_at else None
    return closure_report(queries.closure_series(conn, campaign, until), ctx.key, ctx.title, local, lang)


def write_report(svc: Services, campaign: str, kind: str, fmt: str, out: Path, *, at: dt.datetime | None = None,
                 phase: str | None = None, unit: str | None = None) -> dict[str, Any]:
    """Write the report of `kind` as of `at` (default: now) to `out` in `fmt`."""
    from campaign_model.errors import InvalidInput
    from campaign_model.store.audit import head

    from .audit import anchor_head

    instant = at or svc.now()
    with svc.read() as conn:
        audit_head = head(conn)
        if kind == "notice" and fmt == "xlsx":
            from campaign_model.store.campaigns import load_ctx
            from campaign_model.store.notice_query import overdue_by_parent

            data: Any = overdue_by_parent(conn, campaign, instant)
            lang = _language(load_ctx(conn, campaign))
        else:
            data = build_report(conn, campaign, kind, instant, phase, unit, at is not None)
            data.audit_head = audit_head
    # rendered outside the transaction: a PDF or PNG takes a browser's time
    try:
        if kind == "notice" and fmt == "xlsx":
            from notifications.notice import write_xlsx

            write_xlsx(data, out, lang, audit_head=audit_head)
        else:
            from notifications.reports import write_report as render

            render(data, fmt, out)
    except OSError as exc:
        raise InvalidInput(f"--out: 无法写入 '{out}' (cannot write: {exc.strerror})", field="out") from None
    anchor_head(svc, audit_head, f"report:{kind}")
    return {"campaign": campaign, "kind": kind, "format": fmt, "path": str(out),
            "audit_head": {"seq": audit_head[0], "hash": audit_head[1]}}


def _language(ctx: Any) -> str:
    return str(ctx.messages.get("language", "zh"))


def report_form(svc: Services, campaign: str) -> dict[str, Any]:
    """What the reports page offers for a campaign: its phases (phase audit) and units (ledger), its time zone."""
    from campaign_model.store.campaigns import load_ctx
    from campaign_model.store.phases import phase_rows
    from campaign_model.store.unit_lookup import unit_rows

    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        phases = [{"key": p.key, "title": p.title} for p in phase_rows(conn, ctx.id)]
        units = [{"key": u.key, "name": u.name} for u in unit_rows(conn, ctx) if u.active]
    return {"campaign": campaign, "title": ctx.title, "tz": ctx.tz, "language": _language(ctx), "phases": phases,
            "units": units, "kinds": KINDS, "formats": FORMATS, "kind_zh": KIND_ZH}
