"""The phase completion audit (阶段完成情况审计) as a report: what a supervising group (督导组) asks of a
bureau — per phase, who filed what, when, against which deadline, how it was reviewed, who was
reminded, and every override (特批: forced advance, waiver) with who, when and why.

Three tables: the phases at a glance, every required artifact, and the overrides.
"""

from __future__ import annotations

from typing import Any

from campaign_model.labels import PHASE_STATE, names
from campaign_model.store.reports import PhaseAudit

from .model import Col, Report, Table, columns

OUTCOME_ZH = {"on_time": "按时报送", "late": "逾期报送", "missing": "逾期未报", "waived": "免报", "pending": "未到期"}
REVIEW_ZH = {"accepted": "通过", "rejected": "退回"}
OVERRIDE_ZH = {"forced_advance": "特批转段", "waiver": "免报"}
# the report is an official document in the campaign's language only: each label once per language
LABELS: dict[str, dict[str, Any]] = {
    "zh": {"outcome": OUTCOME_ZH, "review": REVIEW_ZH, "phase": names(PHASE_STATE, "zh"), "override": OVERRIDE_ZH,
           "forced": "特批转段", "by_gate": "按条件转段", "no_review": "无需审核", "awaiting": "待审核"},
    "en": {"outcome": {"on_time": "on time", "late": "filed late", "missing": "missing", "waived": "waived",
                       "pending": "not yet due"},
           "review": {"accepted": "accepted", "rejected": "rejected"},
           "phase": names(PHASE_STATE, "en"),
           "override": {"forced_advance": "forced advance", "waiver": "waived"},
           "forced": "forced advance", "by_gate": "gate met", "no_review": "no review", "awaiting": "awaiting review"},
}
TONES = {"逾期未报": "bad", "逾期报送": "warn", "免报": "muted", "退回": "bad", "特批转段": "warn",
         "missing": "bad", "filed late": "warn", "waived": "muted", "rejected": "bad", "forced advance": "warn"}

PHASE_COLUMNS = [
    Col("title", "阶段", title_en="Phase"), Col("start", "计划开始", "date", title_en="Planned start"),
    Col("end", "计划结束", "date", title_en="Planned end"),
    Col("started_at", "实际开始", "datetime", title_en="Started"), Col("completed_at", "完成时间", "datetime", title_en="Completed"),
    Col("completion", "转段方式", tones=TONES, title_en="Completion"),
    Col("force_reason", "特批理由", wrap=True, title_en="Reason for forcing"),
    Col("required", "应报", "int", title_en="Required"), Col("on_time", "按时报送", "int", title_en="On time"),
    Col("late", "逾期报送", "int", title_en="Late"), Col("missing", "逾期未报", "int", title_en="Missing"),
    Col("waived", "免报", "int", title_en="Waived"), Col("pending", "未到期", "int", title_en="Not yet due"),
]
ROW_COLUMNS = [
    Col("no", "序号", "int", title_en="No."), Col("phase_title", "阶段", title_en="Phase"),
    Col("unit_name", "单位", title_en="Unit"), Col("artifact_title", "材料", title_en="Artifact"),
    Col("step_title", "步骤", title_en="Step"), Col("due", "截止时间", "datetime", title_en="Due"),
    Col("filed_at", "报送时间", "datetime", title_en="Filed"), Col("versions", "报送版本数", "int", title_en="Versions"),
    Col("outcome_zh", "结果", tones=TONES, title_en="Outcome"), Col("review_zh", "审核结论", tones=TONES, title_en="Review"),
    Col("reviewer", "审核人", title_en="Reviewer"), Col("review_comment", "审核意见", wrap=True, title_en="Review comment"),
    Col("rejections", "退回次数", "int", title_en="Rejections"), Col("reminders", "催办次数", "int", title_en="Reminders"),
    Col("escalations", "督办次数", "int", title_en="Escalations"),
    Col("waived_reason", "免报理由", wrap=True, title_en="Reason for waiver"),
]
OVERRIDE_COLUMNS = [
    Col("no", "序号", "int", title_en="No."), Col("phase_title", "阶段", title_en="Phase"),
    Col("kind_zh", "类型", tones=TONES, title_en="Kind"), Col("unit_name", "单位", title_en="Unit"),
    Col("artifact_title", "材料", title_en="Artifact"), Col("at", "时间", "datetime", title_en="At"),
    Col("by", "操作人", title_en="By"), Col("reason", "理由", wrap=True, title_en="Reason"),
]


def completion(p: dict[str, Any], lang: str = "zh") -> str:
    labels = LABELS[lang]
    if p["completed_at"] is None:
        return str(labels["phase"].get(p["state"], p["state"]))
    return str(labels["forced"] if p["forced"] else labels["by_gate"])


def review_label(row: dict[str, Any], lang: str = "zh") -> str | None:
    """The review of the latest filing; a filing nobody has reviewed yet reads 待审核."""
    labels = LABELS[lang]
    if not row["review_required"]:
        return str(labels["no_review"])
    if row["review"]:
        return str(labels["review"].get(row["review"], row["review"]))
    return str(labels["awaiting"]) if row["state"] == "filed" else None


def deliveries_line(deliveries: dict[str, int], kinds: dict[str, str], lang: str = "zh") -> str:
    """How the reminders went out, by channel: only what a real channel took has left the machine."""
    from notifications.dispatch import CHANNEL_LABEL, FILE_KIND

    kind = lambda name: kinds.get(name, FILE_KIND if name == FILE_KIND else name)  # noqa: E731
    real = {name: n for name, n in deliveries.items() if kind(name) != FILE_KIND}
    written = sum(n for name, n in deliveries.items() if kind(name) == FILE_KIND)
    sep = "、" if lang == "zh" else ", "
    by_channel = sep.join(f"{CHANNEL_LABEL[lang].get(kind(name), name)} {n}" for name, n in sorted(real.items()))
    if lang == "en":
        line = f"{sum(real.values())} delivered by a channel ({by_channel})" if real else "none delivered by any channel"
        return line + (f", {written} written to the outbox file (not sent)" if written else "")
    line = f"经渠道发出 {sum(real.values())} 条（{by_channel}）" if real else "未经任何渠道发出"
    return line + (f"，写入发件箱文件 {written} 条（未发出）" if written else "")


def _summary(audit: PhaseAudit, deliveries: dict[str, int], kinds: dict[str, str], lang: str = "zh") -> list[str]:
    rows = audit.rows
    count = lambda o: sum(1 for r in rows if r["outcome"] == o)  # noqa: E731
    forced = [p["title"] for p in audit.phases if p["forced"]]
    reminded = sum(r["reminders"] for r in rows)
    escalated = sum(r["escalations"] for r in rows)
    rejected = sum(r["rejections"] for r in rows)
    if lang == "en":
        return [f"{len(rows)} required artifacts: {count('on_time')} on time, {count('late')} filed late, "
                f"{count('missing')} missing, {count('waived')} waived, {count('pending')} not yet due.",
                f"{reminded} reminders and {escalated} escalations: {deliveries_line(deliveries, kinds, lang)}; "
                f"{rejected} rejections.",
                f"Forced advances: {', '.join(forced)}." if forced else "No forced advance."]
    line = (f"共应报材料 {len(rows)} 项：按时报送 {count('on_time')} 项，逾期报送 {count('late')} 项，"
            f"逾期未报 {count('missing')} 项，免报 {count('waived')} 项，未到期 {count('pending')} 项。")
    # a reminder written to the outbox file was never sent: the line says where each one went
    lines = [line, f"催办 {reminded} 次，督办 {escalated} 次：{deliveries_line(deliveries, kinds)}；审核退回 {rejected} 次。"]
    lines.append(f"特批转段：{'、'.join(forced)}。" if forced else "无特批转段。")
    return lines


def phase_audit_report(audit: PhaseAudit, deliveries: dict[str, int] | None = None,
                       kinds: dict[str, str] | None = None, lang: str = "zh") -> Report:
    """`deliveries`: the reminders delivered by channel name (store.outbox.delivered_by_channel); `kinds`:
    each configured channel's kind (the file channel is "file"); `lang`: the campaign's language."""
    labels = LABELS[lang]
    # the planned window is whole days (00:00 to 23:59:59): shown as the dates the plan names
    phases = [{**p, "start": p["start"].date(), "end": p["end"].date(), "completion": completion(p, lang)}
              for p in audit.phases]
    rows = [{**r, "no": n, "outcome_zh": labels["outcome"][r["outcome"]], "review_zh": review_label(r, lang)}
            for n, r in enumerate(audit.rows, start=1)]
    overrides = [{**o, "no": n, "kind_zh": labels["override"][o["kind"]]} for n, o in enumerate(audit.overrides, start=1)]
    deliveries = deliveries or {}
    document = {"kind": "phase-audit", "campaign": audit.campaign, "title": audit.title, "at": audit.at,
                "phases": audit.phases, "rows": audit.rows, "overrides": audit.overrides,
                "deliveries": {name: {"kind": (kinds or {}).get(name, "file" if name == "file" else ""), "reminders": n}
                               for name, n in sorted(deliveries.items())}}
    if lang == "en":
        names = (("Phases", "1. Phases"), ("Artifacts", "2. Required artifacts"),
                 ("Overrides", "3. Overrides (forced advances, waivers)"))
        title = f"{audit.title}: phase completion audit"
    else:
        names = (("阶段概况", "一、各阶段完成情况"), ("材料明细", "二、应报材料明细"), ("特批记录", "三、特批（强制转段、免报）记录"))
        title = f"{audit.title}阶段完成情况审计表"
    tables = [Table(*names[0], columns(PHASE_COLUMNS, lang), phases), Table(*names[1], columns(ROW_COLUMNS, lang), rows),
              Table(*names[2], columns(OVERRIDE_COLUMNS, lang), overrides)]
    return Report("phase-audit", audit.campaign, title, audit.at, tables, document,
                  _summary(audit, deliveries, kinds or {}, lang), lang=lang)
