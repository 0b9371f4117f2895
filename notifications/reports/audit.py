"""The phase completion audit (阶段完成情况审计) as a report: what a supervising group (督导组) asks of a
bureau — per phase, who filed what, when, against which deadline, how it was reviewed, who was
reminded, and every override (特批: forced advance, waiver) with who, when and why.

Three tables: the phases at a glance, every required artifact, and the overrides.
"""

from __future__ import annotations

from typing import Any

from campaign_model.store.reports import PhaseAudit

from .model import Col, Report, Table

OUTCOME_ZH = {"on_time": "按时报送", "late": "逾期报送", "missing": "逾期未报", "waived": "免报", "pending": "未到期"}
REVIEW_ZH = {"accepted": "通过", "rejected": "退回"}
PHASE_ZH = {"pending": "未开始", "active": "进行中", "overdue": "已超期"}
OVERRIDE_ZH = {"forced_advance": "特批转段", "waiver": "免报"}
TONES = {"逾期未报": "bad", "逾期报送": "warn", "免报": "muted", "退回": "bad", "特批转段": "warn"}

PHASE_COLUMNS = [
    Col("title", "阶段"), Col("start", "计划开始", "date"), Col("end", "计划结束", "date"),
    Col("started_at", "实际开始", "datetime"), Col("completed_at", "完成时间", "datetime"),
    Col("completion", "转段方式", tones=TONES), Col("force_reason", "特批理由", wrap=True),
    Col("required", "应报", "int"), Col("on_time", "按时报送", "int"), Col("late", "逾期报送", "int"),
    Col("missing", "逾期未报", "int"), Col("waived", "免报", "int"), Col("pending", "未到期", "int"),
]
ROW_COLUMNS = [
    Col("no", "序号", "int"), Col("phase_title", "阶段"), Col("unit_name", "单位"), Col("artifact_title", "材料"),
    Col("step_title", "步骤"), Col("due", "截止时间", "datetime"), Col("filed_at", "报送时间", "datetime"),
    Col("versions", "报送版本数", "int"), Col("outcome_zh", "结果", tones=TONES), Col("review_zh", "审核结论", tones=TONES),
    Col("reviewer", "审核人"), Col("review_comment", "审核意见", wrap=True), Col("rejections", "退回次数", "int"),
    Col("reminders", "催办次数", "int"), Col("escalations", "督办次数", "int"), Col("waived_reason", "免报理由", wrap=True),
]
OVERRIDE_COLUMNS = [
    Col("no", "序号", "int"), Col("phase_title", "阶段"), Col("kind_zh", "类型", tones=TONES), Col("unit_name", "单位"),
    Col("artifact_title", "材料"), Col("at", "时间", "datetime"), Col("by", "操作人"), Col("reason", "理由", wrap=True),
]


def completion(p: dict[str, Any]) -> str:
    if p["completed_at"] is None:
        return PHASE_ZH.get(p["state"], p["state"])
    return "特批转段" if p["forced"] else "按条件转段"


def review_label(row: dict[str, Any]) -> str | None:
    """The review of the latest filing; a filing nobody has reviewed yet reads 待审核."""
    if not row["review_required"]:
        return "无需审核"
    if row["review"]:
        return REVIEW_ZH.get(row["review"], row["review"])
    return "待审核" if row["state"] == "filed" else None


def deliveries_line(deliveries: dict[str, int], kinds: dict[str, str]) -> str:
    """How the reminders went out, by channel: only what a real channel took has left the machine."""
    from notifications.dispatch import CHANNEL_LABEL, FILE_KIND

    kind = lambda name: kinds.get(name, FILE_KIND if name == FILE_KIND else name)  # noqa: E731
    real = {name: n for name, n in deliveries.items() if kind(name) != FILE_KIND}
    written = sum(n for name, n in deliveries.items() if kind(name) == FILE_KIND)
    by_channel = "、".join(f"{CHANNEL_LABEL['zh'].get(kind(name), name)} {n}" for name, n in sorted(real.items()))
    line = f"经渠道发出 {sum(real.values())} 条（{by_channel}）" if real else "未经任何渠道发出"
    return line + (f"，写入发件箱文件 {written} 条（未发出）" if written else "")


def _summary(audit: PhaseAudit, deliveries: dict[str, int], kinds: dict[str, str]) -> list[str]:
    rows = audit.rows
    count = lambda o: sum(1 for r in rows if r["outcome"] == o)  # noqa: E731
    forced = [p["title"] for p in audit.phases if p["forced"]]
    line = (f"共应报材料 {len(rows)} 项：按时报送 {count('on_time')} 项，逾期报送 {count('late')} 项，"
            f"逾期未报 {count('missing')} 项，免报 {count('waived')} 项，未到期 {count('pending')} 项。")
    reminded = sum(r["reminders"] for r in rows)
    escalated = sum(r["escalations"] for r in rows)
    # a reminder written to the outbox file was never sent: the line says where each one went
    lines = [line, f"催办 {reminded} 次，督办 {escalated} 次：{deliveries_line(deliveries, kinds)}；"
                   f"审核退回 {sum(r['rejections'] for r in rows)} 次。"]
    lines.append(f"特批转段：{'、'.join(forced)}。" if forced else "无特批转段。")
    return lines


def phase_audit_report(audit: PhaseAudit, deliveries: dict[str, int] | None = None,
                       kinds: dict[str, str] | None = None) -> Report:
    """`deliveries`: the reminders delivered by channel name (store.outbox.delivered_by_channel); `kinds`:
    each configured channel's kind (the file channel is "file")."""
    # the planned window is whole days (00:00 to 23:59:59): shown as the dates the plan names
    phases = [{**p, "start": p["start"].date(), "end": p["end"].date(), "completion": completion(p)}
              for p in audit.phases]
    rows = [{**r, "no": n, "outcome_zh": OUTCOME_ZH[r["outcome"]], "review_zh": review_label(r)}
            for n, r in enumerate(audit.rows, start=1)]
    overrides = [{**o, "no": n, "kind_zh": OVERRIDE_ZH[o["kind"]]} for n, o in enumerate(audit.overrides, start=1)]
    deliveries = deliveries or {}
    document = {"kind": "phase-audit", "campaign": audit.campaign, "title": audit.title, "at": audit.at,
                "phases": audit.phases, "rows": audit.rows, "overrides": audit.overrides,
                "deliveries": {name: {"kind": (kinds or {}).get(name, "file" if name == "file" else ""), "reminders": n}
                               for name, n in sorted(deliveries.items())}}
    tables = [Table("阶段概况", "一、各阶段完成情况", PHASE_COLUMNS, phases),
              Table("材料明细", "二、应报材料明细", ROW_COLUMNS, rows),
              Table("特批记录", "三、特批（强制转段、免报）记录", OVERRIDE_COLUMNS, overrides)]
    return Report("phase-audit", audit.campaign, f"{audit.title}阶段完成情况审计表", audit.at, tables, document,
                  _summary(audit, deliveries, kinds or {}))
