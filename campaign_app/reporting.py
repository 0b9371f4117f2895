"""Reports by kind, for the `report` command and the HTTP API: which kinds and formats exist, and the
report of one kind built from the store at an instant (written to a file by notifications.reports)."""

from __future__ import annotations

from typing import Any

KINDS = ("phase-audit", "ledger", "notice", "closure")
TABLE_FORMATS = ("xlsx", "csv", "json", "html", "pdf")
FORMATS = {kind: TABLE_FORMATS for kind in KINDS} | {"closure": TABLE_FORMATS + ("svg", "png")}
KIND_ZH = {"phase-audit": "阶段完成情况审计", "ledger": "整改台账", "notice": "通报", "closure": "销号进度"}


def build_report(conn: Any, campaign: str, kind: str, at: Any, phase: str | None, unit: str | None,
                 explicit_at: bool) -> Any:
    """The report of `kind` as of `at`; the closure series runs to `at` only when it was asked for."""
    from campaign_model.store import reports as queries
    from campaign_model.store.campaigns import load_ctx
    from notifications.reports.audit import phase_audit_report
    from notifications.reports.build import closure_report, ledger_report, notice_report

    ctx = load_ctx(conn, campaign)
    lang = ctx.messages.get("language", "zh")  # a report is an official document: the campaign's language only
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
    if kind == "ledger":
        return ledger_report(queries.ledger_rows(conn, campaign, unit), ctx.key, ctx.title, local, unit, lang)
    # without --at the series runs to its last change, not on to today
    until = at if explicit_at else None
    return closure_report(queries.closure_series(conn, campaign, until), ctx.key, ctx.title, local, lang)
