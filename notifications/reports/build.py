"""The ledger (整改台账), the notice (通报) and the ledger's closure over time, as reports.

The ledger keeps the column layout bureaus use in Excel, with the four namings (四个明确) of seed 000: 序号,
问题, 类别, 整改措施, 责任领导, 牵头股室, 整改时限, 长效机制, 进展, 状态 in that order; a campaign-wide ledger
adds 单位 after 序号 (a unit's own ledger has exactly these ten columns), and the importer accepts either, and
the older layout without 长效机制.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from campaign_model.labels import LEDGER_STATE, names
from campaign_model.ledger import OWED, STATE_ZH  # the ledger's own labels and rules
from campaign_model.store.notice_query import NoticeData
from notifications.notice import HEADER as NOTICE_HEADER
from notifications.notice import HEADER_EN as NOTICE_HEADER_EN
from notifications.notice import _summary_en as notice_summary_en
from notifications.notice import _summary_zh as notice_summary  # the notice's own wording, not a copy
from notifications.notice import notice_title, parent_label
from notifications.notice import signer as notice_signer

from .chart import closure_svg
from .model import LONG_TERM_LABEL, Col, Report, Table, columns

# an English campaign's report: the ledger states and the notice's statuses in English (documents are in
# the campaign's language only)
STATE_EN = names(LEDGER_STATE, "en")
STATES = {"zh": STATE_ZH, "en": STATE_EN}
NOTICE_STATUS = {"zh": ("逾期未报", "退回未重报"), "en": ("not filed", "rejected, not re-filed")}
TONES = {STATE_ZH["reopened"]: "bad", STATE_ZH["returned"]: "bad", "returned": "bad",
         STATE_ZH["closed"]: "ok", "逾期未报": "bad", "退回未重报": "bad",
         "reopened": "bad", "closed": "ok", "not filed": "bad", "rejected, not re-filed": "bad"}
LEDGER_COLUMNS = [
    Col("no", "序号", "int", title_en="No."), Col("unit_name", "单位", title_en="Unit"),
    Col("problem", "问题", wrap=True, title_en="Problem"), Col("category", "类别", title_en="Category"),
    Col("measure", "整改措施", wrap=True, title_en="Measure"), Col("leader", "责任领导", title_en="Leader"),
    Col("office", "牵头股室", title_en="Office"), Col("deadline", "整改时限", "deadline", title_en="Deadline"),
    Col("mechanism", "长效机制", wrap=True, title_en="Long-term mechanism"),
    Col("progress", "进展", wrap=True, title_en="Progress"), Col("state_zh", "状态", tones=TONES, title_en="State"),
]
NOTICE_KEYS = ["no", "parent_name", "unit_name", "artifact_title", "step_title", "due", "days_overdue", "status"]
NOTICE_KINDS = ["int", "text", "text", "text", "text", "datetime", "int", "text"]
CLOSURE_COLUMNS = [Col("day", "日期", "date", title_en="Day"), Col("total", "问题总数", "int", title_en="Items"),
                   Col("closed", "已销号", "int", title_en="Closed"), Col("in_progress", "未销号", "int", title_en="Open"),
                   Col("ratio", "销号率", "percent", title_en="Closed share")]


def _overdue(item: dict[str, Any], day: dt.date) -> bool:
    # as the ledger rules judge it: a rectified item waits on the supervisor, a long-term one never ends
    return item["state"] in OWED and not item["long_term"] and item["deadline"] is not None and item["deadline"] < day


def ledger_report(items: list[dict[str, Any]], campaign: str, campaign_title: str, at: dt.datetime,
                  unit: str | None = None, lang: str = "zh") -> Report:
    states = STATES[lang]
    rows = [{**i, "no": n, "deadline": LONG_TERM_LABEL[lang] if i["long_term"] else i["deadline"],
             "state_zh": states.get(i["state"], i["state"])} for n, i in enumerate(items, start=1)]
    cols = columns([c for c in LEDGER_COLUMNS if not (unit and c.key == "unit_name")], lang)
    unit_name = items[0]["unit_name"] if unit and items else unit
    by_state = {s: sum(1 for i in items if i["state"] == s) for s in STATE_ZH}
    late = sum(1 for i in items if _overdue(i, at.date()))
    if lang == "en":
        title = f"{campaign_title}: rectification ledger" + (f" ({unit_name})" if unit else "")
        summary = ([f"{len(items)} items: " + ", ".join(f"{n} {states[s]}" for s, n in by_state.items() if n)
                    + (f"; {late} past their deadline and not closed." if late else ".")]
                   if items else ["The ledger is empty."])
        sheet = "Ledger"
    else:
        title = f"{campaign_title}问题整改台账" + (f"（{unit_name}）" if unit else "")
        summary = [f"共 {len(items)} 项问题：" + "，".join(f"{STATE_ZH[s]} {n} 项" for s, n in by_state.items() if n)
                   + (f"；其中超过整改时限未销号 {late} 项。" if late else "。")] if items else ["台账为空。"]
        sheet = "整改台账"
    document = {"kind": "ledger", "campaign": campaign, "title": title, "at": at, "unit": unit, "items": items}
    return Report("ledger", campaign, title, at, [Table(sheet, title, cols, rows)], document, summary, lang=lang)


def notice_report(data: NoticeData, lang: str = "zh") -> Report:
    headers = NOTICE_HEADER_EN if lang == "en" else NOTICE_HEADER
    cols = [Col(k, t, kind, tones=TONES) for k, t, kind in zip(NOTICE_KEYS, headers, NOTICE_KINDS, strict=False)]
    rows, groups, n = [], [], 0
    for g in data.groups:
        items = []
        for i in g.items:
            n += 1
            title = (i.artifact_title_en or i.artifact_title) if lang == "en" else i.artifact_title
            rows.append({"no": n, "parent_name": parent_label(g, lang), "unit_name": i.unit_name,
                         "artifact_title": title, "step_title": i.step_title, "due": i.due,
                         "days_overdue": i.days_overdue, "status": NOTICE_STATUS[lang][1 if i.rejected else 0]})
            items.append({"unit": i.unit_key, "unit_name": i.unit_name, "artifact": i.artifact,
                          "artifact_title": title, "step_title": i.step_title, "due": i.due,
                          "days_overdue": i.days_overdue, "rejected": i.rejected})
        groups.append({"parent": g.parent_key, "parent_name": parent_label(g, lang), "items": items})
    title = notice_title(data, lang)
    document = {"kind": "notice", "campaign": data.campaign, "title": title, "at": data.at,
                "due_total": data.due_total, "filed_on_time": data.filed_on_time, "filed_late": data.filed_late,
                "waived": data.waived, "units_overdue": data.units_overdue, "items_overdue": data.items_overdue,
                "groups": groups}
    summary = [notice_summary_en(data) if lang == "en" else notice_summary(data)] + \
        ([data.doc_number] if data.doc_number else []) + \
        ([signer] if (signer := notice_signer(data, lang)) else [])
    table = Table("Notice", "Overdue materials", cols, rows) if lang == "en" else Table("通报", "逾期未报材料", cols, rows)
    return Report("notice", data.campaign, title, data.at, [table], document, summary, lang=lang)


def closure_report(series: list[dict[str, Any]], campaign: str, campaign_title: str, at: dt.datetime,
                   lang: str = "zh") -> Report:
    rows = [{**p, "ratio": p["closed"] / p["total"] if p["total"] else None} for p in series]
    last = series[-1] if series else None
    if lang == "en":
        title = f"{campaign_title}: ledger closure over time"
        summary = ([f"As of {last['day']:%Y-%m-%d}: {last['total']} items, {last['closed']} closed, "
                    f"{last['in_progress']} open."] if last else ["The ledger is empty."])
        table = Table("Closure", "Closure by day", columns(CLOSURE_COLUMNS, lang), rows)
    else:
        title = f"{campaign_title}整改台账销号进度"
        summary = ([(f"截至 {last['day']:%Y-%m-%d}，台账共 {last['total']} 项，已销号 {last['closed']} 项，"
                     f"未销号 {last['in_progress']} 项。")] if last else ["台账为空。"])
        table = Table("销号进度", "每日销号情况", CLOSURE_COLUMNS, rows)
    document = {"kind": "closure", "campaign": campaign, "title": title, "at": at, "series": series}
    return Report("closure", campaign, title, at, [table], document, summary,
                  chart_svg=closure_svg(series, title, lang), lang=lang)
