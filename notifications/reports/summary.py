"""The summary figures (汇总数据): what units filed as figures (征求意见, 制度成果), added up per parent unit and for
the campaign, as a report. One pair of tables per figures kind: the sums by parent unit with the campaign's
total as the last row, then each unit's own. A figure the ledger also counts (how many opinions became
items) has the ledger's count beside it; a figure with a limit (returned ≤ sent) has its share beside it.

Rendering is pure: the data come from campaign_model.store.figures.figures_summary.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .model import Col, Report, Table

WORDS = {
    "zh": {"title": "{c}汇总数据", "parent": "上级单位", "unit": "单位", "owing": "应报单位", "filed": "已报单位",
           "filed_at": "报送时间", "total": "合计", "by_parent": "按上级单位汇总", "by_unit": "各单位填报",
           "ledger": "台账计数：{t}", "share": "{a}占{b}", "none": "本活动没有数字填报的材料。",
           "line": "{t}：{f}/{o} 个单位已填报；合计 {v}。", "pair": "{t} {v}", "sep": "，",
           "beside": "；台账中来源为{s}的事项 {n} 项（填报 {v}）", "unknown": "未填"},
    "en": {"title": "{c}: summary figures", "parent": "Parent unit", "unit": "Unit", "owing": "Units owing",
           "filed": "Units filed", "filed_at": "Filed at", "total": "Total", "by_parent": "by parent unit",
           "by_unit": "by unit", "ledger": "Ledger count: {t}", "share": "{a} of {b}",
           "none": "This campaign has no figures to file.", "line": "{t}: {f} of {o} units filed; in all {v}.",
           "pair": "{t} {v}", "sep": ", ", "beside": "; ledger items from {s}: {n} (filed: {v})",
           "unknown": "not given"},
}


def _title(d: dict[str, Any], lang: str) -> str:
    return str(d.get("title_en") or d["title"]) if lang == "en" else str(d["title"])


def _columns(kind: dict[str, Any], lang: str, first: list[Col]) -> list[Col]:
    w, titles = WORDS[lang], {f["key"]: _title(f, lang) for f in kind["fields"]}
    cols = list(first)
    for f in kind["fields"]:
        cols.append(Col(f["key"], titles[f["key"]], "int"))
        if f["key"] in kind["from_ledger"]:
            cols.append(Col(f"ledger:{f['key']}", w["ledger"].format(t=titles[f["key"]]), "int"))
    for a, b in kind["at_most"].items():
        cols.append(Col(f"share:{a}", w["share"].format(a=titles.get(a, a), b=titles.get(b, b)), "percent"))
    return cols


def _cells(kind: dict[str, Any], values: dict[str, int | None], ledger: dict[str, int]) -> dict[str, Any]:
    cells: dict[str, Any] = dict(values)
    cells.update({f"ledger:{k}": n for k, n in ledger.items()})
    for a, b in kind["at_most"].items():
        top, part = values.get(b), values.get(a)
        cells[f"share:{a}"] = part / top if top and part is not None else None
    return cells


def summary_report(kinds: list[dict[str, Any]], campaign: str, campaign_title: str, at: dt.datetime,
                   lang: str = "zh") -> Report:
    w = WORDS[lang]
    title = w["title"].format(c=campaign_title)
    tables: list[Table] = []
    summary: list[str] = []
    for kind in kinds:
        name = _title(kind, lang)
        by_parent = _columns(kind, lang, [Col("parent_name", w["parent"]), Col("units_owing", w["owing"], "int"),
                                          Col("units_filed", w["filed"], "int")])
        rows = [{"parent_name": g["parent_name"], "units_owing": g["units_owing"], "units_filed": g["units_filed"],
                 **_cells(kind, g["values"], g["ledger"])} for g in kind["groups"]]
        t = kind["total"]
        rows.append({"parent_name": w["total"], "units_owing": t["units_owing"], "units_filed": t["units_filed"],
                     **_cells(kind, t["values"], t["ledger"])})
        tables.append(Table(f"{name[:24]}-{w['total']}"[:31], f"{name}：{w['by_parent']}" if lang == "zh"
                            else f"{name}: {w['by_parent']}", by_parent, rows))
        by_unit = _columns(kind, lang, [Col("unit_name", w["unit"]), Col("parent_name", w["parent"]),
                                        Col("filed_at", w["filed_at"], "datetime")])
        tables.append(Table(f"{name[:24]}-{w['unit']}"[:31], f"{name}：{w['by_unit']}" if lang == "zh"
                            else f"{name}: {w['by_unit']}", by_unit,
                            [{"unit_name": u["unit_name"], "parent_name": u["parent_name"], "filed_at": u["filed_at"],
                              **_cells(kind, u["values"], u["ledger"])} for u in kind["units"]]))
        summary.append(_sentence(kind, lang))
    document = {"kind": "summary", "campaign": campaign, "title": title, "at": at, "figures": kinds}
    return Report("summary", campaign, title, at, tables, document, summary or [w["none"]], lang=lang)


def _sentence(kind: dict[str, Any], lang: str) -> str:
    """One line per kind: who filed, each figure's total, the ledger's count beside the filed one."""
    w, t = WORDS[lang], kind["total"]
    titles = {f["key"]: _title(f, lang) for f in kind["fields"]}
    values = w["sep"].join(w["pair"].format(t=titles[k], v=w["unknown"] if v is None else v)
                           for k, v in t["values"].items())
    line = w["line"].format(t=_title(kind, lang), f=t["units_filed"], o=t["units_owing"], v=values)
    for k, sources in kind["from_ledger"].items():
        filed = t["values"].get(k)
        # the sources as people name them (群众意见), not their codes (mass_opinion), where both are listed
        named = [x for x in sources if not x.isascii()] if lang == "zh" else sources
        line = line.rstrip("。.") + w["beside"].format(s="/".join(named or sources), n=t["ledger"].get(k, 0),
                                                      v=w["unknown"] if filed is None else filed) + \
            ("。" if lang == "zh" else ".")
    return line
