"""考核排名 as a report: one table, best first (rank, unit, parent, the three measures, score, grade), the grades'
counts above it. Built from `usecases.grades.ranking`'s plain data; in the campaign's language only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from .model import Col, Report, Table, columns

TONES = {"一般": "bad", "Fair": "bad", "优秀": "ok", "Excellent": "ok"}
GRADE_COLUMNS = [
    Col("rank", "排名", "int", title_en="Rank"), Col("unit_name", "单位", title_en="Unit"),
    Col("parent_name", "上级单位", title_en="Parent unit"), Col("on_time", "按时报送率", "percent", title_en="On time"),
    Col("rejections", "未退回率", "percent", title_en="Not returned"),
    Col("closure", "台账销号率", "percent", title_en="Ledger closed"), Col("score", "得分", title_en="Score"),
    Col("grade", "档次", tones=TONES, title_en="Grade"),
    Col("due", "到期应报", "int", title_en="Due"), Col("filed_on_time", "按时报送", "int", title_en="Filed on time"),
    Col("filings", "报送次数", "int", title_en="Filings"), Col("returned", "退回次数", "int", title_en="Returned"),
    Col("items", "应销号问题", "int", title_en="Items due"), Col("closed", "已销号", "int", title_en="Closed"),
]


def grades_report(view: dict[str, Any], at: dt.datetime, lang: str = "zh") -> Report:
    rows = [{**u, "score": None if u["score"] is None else f"{u['score']:.1f}", "parent_name": u["parent_name"] or "",
             "due": u["counts"]["due"], "filed_on_time": u["counts"]["on_time"], "filings": u["counts"]["filings"],
             "returned": u["counts"]["rejections"], "items": u["counts"]["items"], "closed": u["counts"]["closed"]}
            for u in view["units"]]
    w = view["weights"]
    if lang == "en":
        title = f"{view['title']}: assessment and ranking"
        counts = ", ".join(f"{g['units']} {g['name_en'] or g['name']} (from {g['min']:g})" for g in view["grades"])
        summary = [f"Score = on-time filing {w['on_time']:g} + rejections {w['rejections']:g} + ledger closure "
                   f"{w['closure']:g} points; a measure with nothing to measure is left out.",
                   f"{len(rows)} unit(s): {counts}" + (f"; {view['ungraded']} not graded." if view["ungraded"] else ".")]
        table = Table("Ranking", "Ranking", columns(GRADE_COLUMNS, lang), rows)
    else:
        title = f"{view['title']}考核排名"
        counts = "，".join(f"{g['name']}（{g['min']:g} 分以上）{g['units']} 个" for g in view["grades"])
        summary = [f"得分 = 按时报送 {w['on_time']:g} 分 + 退回情况 {w['rejections']:g} 分 + 台账销号 {w['closure']:g} 分；"
                   f"无可计算事项的一项不计，其余按权重折算。",
                   f"共 {len(rows)} 个单位：{counts}" + (f"；未评 {view['ungraded']} 个。" if view["ungraded"] else "。")]
        table = Table("考核排名", "考核排名", GRADE_COLUMNS, rows)
    document = {"kind": "grades", "campaign": view["campaign"], "title": title, "at": at, "weights": w,
                "grades": view["grades"], "ungraded": view["ungraded"], "units": view["units"]}
    return Report("grades", view["campaign"], title, at, [table], document, summary, lang=lang)
